"""关爱走访's figures and ledger: 探访按期率 (storage.care counts, /stats, the supervisor digests,
the web overview), the Monday list of overdue visits, the 关爱走访 sheet and file of the ledger
(bot.export, /export, the web download, `linlitong export --what care`).

The roster and its visits are built with the domain's own calls (bot.care.add, record_visit,
start_round; tests/care_cast.py) on a ManualClock; the digests and commands run as in
production, on the simulator. Both engines.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot import care
from bot.categories import CareTier
from bot.cli import main
from bot.clock import ManualClock
from bot.context import runtime_of
from bot.digest import CARE_WEEKDAY, build_daily_digests
from bot.export import (
    CARE_COLUMNS,
    LEDGER_COLUMNS,
    LedgerFormat,
    LedgerPart,
    Written,
    care_path,
    export_ledger,
)
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from bot.xlsx import Sheet, SheetWriter
from storage import GridInfo, Storage
from storage.care import CareCounts, CarePerson, RecordedVisit
from storage.vocabulary import AuditAction, VisitOutcome, VisitWay
from tests.care_cast import (
    CATALOG,
    CONTACT,
    HIGH,
    KEY,
    PLAIN,
    add_person,
    add_to,
    record,
    texts_in,
    town,
    visit,
)
from tests.harness import Harness
from tests.test_export import cli_database
from tests.test_web_pages import site
from tests.test_web_pages import town as web_town

TZ = ZoneInfo("Asia/Shanghai")
DAY = timedelta(days=1)
ZH = Texts("zh")
FIRST_DAY = datetime(2026, 11, 26, tzinfo=TZ)  # a Thursday: the harness clock's day (09:00)


def local(days: float, hour: float) -> datetime:
    """``days`` after the first day, at ``hour`` o'clock Beijing time."""
    return FIRST_DAY + timedelta(days=days, hours=hour)


# -- building a roster straight on storage --------------------------------------------------


@dataclass
class Roster:
    storage: Storage
    desk: care.Desk
    clock: ManualClock
    grids: dict[str, GridInfo]
    officer: care.Actor

    async def add(
        self, grid: str, name: str, tier: CareTier = HIGH, contact: str = CONTACT
    ) -> CarePerson:
        return await add_to(
            self.desk,
            grid_id=self.grids[grid].id,
            name=name,
            officer=self.officer,
            now=self.clock.now(),
            tier=tier,
            contact=contact,
        )

    async def visit(
        self,
        person: CarePerson,
        outcome: VisitOutcome = VisitOutcome.NORMAL,
        *,
        way: VisitWay = VisitWay.HOME,
        note: str = "",
    ) -> RecordedVisit:
        return await record(
            self.desk,
            person,
            officer=self.officer,
            now=self.clock.now(),
            grid_chat_id=next(g.chat_id for g in self.grids.values() if g.id == person.grid_id),
            outcome=outcome,
            way=way,
            note=note,
        )


async def roster(storage: Storage) -> Roster:
    clock = ManualClock(local(0, 9))
    for chat_id, grid, community in (
        (-1001000000001, "第一网格", "通顺社区"),
        (-1001000000002, "第二网格", "通顺社区"),
        (-1001000000003, "和平网格", "和平社区"),
    ):
        await storage.grids.bind_grid(
            chat_id=chat_id,
            title=grid,
            grid=grid,
            community=community,
            street="交通街道",
            by=1,
            now=clock.now(),
        )
    grids = {g.name: g for g in await storage.grids.grids()}
    desk = care.Desk(storage, CATALOG, ZH, TZ)
    return Roster(storage, desk, clock, grids, care.Actor(7, "刘网格员"))


# -- 探访按期率: the counts ------------------------------------------------------------------


async def test_counts_on_time_late_missed_cancelled_and_rounds(storage: Storage) -> None:
    r = await roster(storage)
    start = r.clock.now()
    on_time = await r.add("第一网格", "按期")
    late = await r.add("第一网格", "晚到")
    await r.add("第一网格", "漏访")  # never visited
    paused = await r.add("第一网格", "暂停")
    unseen = await r.add("第一网格", "未见")
    in_round = await r.add("第二网格", "专项到", KEY)
    round_missed = await r.add("第二网格", "专项漏", KEY)

    # day 1: a heat-wave round for 重点 in 第二网格, a day long; one of its two is visited
    r.clock.set(start + DAY)
    _, covered = await care.start_round(
        r.desk,
        name="高温",
        tier=KEY,
        grid_ids=[r.grids["第二网格"].id],
        deadline=DAY,
        actor=r.officer,
        now=r.clock.now(),
    )
    assert sorted(covered) == [in_round.id, round_missed.id]
    r.clock.set(start + 1.5 * DAY)
    settled = await r.visit(in_round)
    assert len(settled.settled) == 1  # the round's due; the regular one, not due yet, is moot
    r.clock.set(start + 3 * DAY)
    assert await care.pause(r.desk, paused, "住院", r.officer, r.clock.now()) is not None
    # the 高风险 visits fell due on day 7, on time until day 9
    r.clock.set(start + 8 * DAY)
    await r.visit(on_time)
    await r.visit(unseen, VisitOutcome.UNSEEN)  # not seen: settles nothing
    r.clock.set(start + 10 * DAY)
    await r.visit(late)

    one, two = r.grids["第一网格"].id, r.grids["第二网格"].id
    counts = await storage.care.counts(start, start + 12 * DAY)
    # 第一网格: on time 1 of 4 (late, missed, not seen; the paused one's due was cancelled)
    # 第二网格: the round visited in time, the other round missed: 1 of 2 (the early visit's
    # regular due was made moot, counted nowhere)
    assert {g: (c.on_time, c.fell_due) for g, c in counts.items()} == {one: (1, 4), two: (1, 2)}
    total = await care.on_time(storage, start, start + 12 * DAY)
    assert (total.on_time, total.fell_due) == (2, 6)
    only_two = await care.on_time(storage, start, start + 12 * DAY, [two])
    assert (only_two.on_time, only_two.fell_due) == (1, 2)
    # each due in one period only: the on-time visit where it was made (day 8), the late,
    # missed and not-seen ones where their window ended (day 9), none where the late visit came
    assert await storage.care.counts(start + 8 * DAY, start + 9 * DAY, [one]) == {
        one: CareCounts(1, 1)
    }
    assert await storage.care.counts(start + 9 * DAY, start + 10 * DAY, [one]) == {
        one: CareCounts(0, 3)
    }
    late_only = await care.on_time(storage, start + 10 * DAY, start + 12 * DAY)
    assert (late_only.on_time, late_only.fell_due) == (0, 0)
    assert await storage.care.counts(start + 20 * DAY, start + 21 * DAY, [one]) == {}
    # the roster counts people not ended; the paused one still counts
    assert await storage.care.people_by_grid() == {one: 5, two: 2}
    assert await storage.care.people_by_grid([r.grids["和平网格"].id]) == {}
    # what is overdue now: the missed and the not-seen visits (the paused one owes nothing)
    overdue = await storage.care.overdue(start + 12 * DAY, [one])
    assert [d.person.name for d in overdue] == ["漏访", "未见"]


# -- the running bot ------------------------------------------------------------------------


async def stats(bot: Harness, chat: SimChat, user: SimUser, command: str = "/stats") -> str:
    asked = await bot.say(chat, user, command)
    return bot.reply_text(chat, asked)


async def test_stats_shows_the_rate_with_its_counts_only_where_a_roster_is_kept(
    bot: Harness,
) -> None:
    place = await town(bot)
    private = bot.sim.private_chat(bot.admin)
    assert "探访按期率" not in await stats(bot, private, bot.admin)  # no roster: no word of it

    start = bot.clock.now()
    first = await add_person(bot, place, "曹大爷")
    second = await add_person(bot, place, "李奶奶")
    answer = await stats(bot, private, bot.admin)
    assert "探访按期率：无到期走访" in answer  # a roster, but nothing fell due yet
    assert "探访按期率＝" in answer  # its definition below the others'

    bot.clock.set(start + 8 * DAY)  # due on day 7, on time until day 9
    await visit(bot, place, first)
    bot.clock.set(start + 10 * DAY + timedelta(hours=1))
    answer = await stats(bot, private, bot.admin)
    assert "探访按期率：50.0%（1/2）" in answer  # the last 7 days: one on time, one missed
    last_day = await stats(bot, private, bot.admin, "/stats 1")  # their windows ended before
    assert "探访按期率：无到期走访" in last_day
    # asked in the grid's group: the numbers, never a name
    in_group = await stats(bot, place.group, place.officer)
    assert "探访按期率：50.0%（1/2）" in in_group
    assert second.name not in in_group and first.name not in in_group


async def monday_digest(bot: Harness, moment: datetime) -> None:
    bot.clock.set(moment)
    await bot.tick()


def digests_in(bot: Harness, chat: SimChat, marker: str) -> list[str]:
    return [t for t in texts_in(bot, chat) if marker in t]


async def test_mondays_the_community_digest_lists_overdue_visits_by_name(bot: Harness) -> None:
    place = await town(bot)
    first = await add_person(bot, place, "曹大爷")  # due Thu Dec 3, on time until Sat 09:00
    await add_person(bot, place, "李奶奶13900001111")  # a number typed into the name
    await add_person(bot, place, "王大爷", PLAIN)  # due in 90 days

    # Monday Nov 30: the list's day, nobody overdue yet, nothing fell due
    monday = local(4, 18)
    assert monday.weekday() == CARE_WEEKDAY
    await monday_digest(bot, monday)
    [office] = digests_in(bot, place.office, "各网格排名")
    assert "探访按期率：无到期走访" in office and "没有逾期未访的关爱对象" in office
    # Tuesday Dec 1: no list at all
    await monday_digest(bot, local(5, 18))
    tuesday = digests_in(bot, place.office, "各网格排名")[-1]
    assert "探访按期率" in tuesday and "逾期未访" not in tuesday and "逾期" not in tuesday

    # Monday Dec 7: the two 高风险 visits are past their window (Sat 09:00)
    await monday_digest(bot, local(11, 18))
    office = digests_in(bot, place.office, "各网格排名")[-1]
    assert "探访按期率：0.0%（0/2）" in office
    assert "逾期未访（2 人" in office
    assert f"关爱 {first.id} · 曹大爷 · 高风险 · 第一网格 · 走访人 刘网格员 · 逾期 2天" in office
    assert "139****1111" in office and "13900001111" not in office  # the number masked
    assert "王大爷" not in office and "13812345678" not in office  # nor any contact
    street = digests_in(bot, place.street, "各社区排名")[-1]
    assert "逾期未访：2 人" in street and "曹大爷" not in street  # the street: counted

    # the late visit on Tuesday: Tuesday's digest counts it, lists nobody
    bot.clock.set(local(12, 10))
    await visit(bot, place, first)
    await monday_digest(bot, local(12, 18))
    tuesday = digests_in(bot, place.office, "各网格排名")[-1]
    assert "探访按期率：0.0%（0/2）" in tuesday and "曹大爷" not in tuesday

    # the residents' group: its digests say nothing of care, nothing names anyone on the roster
    grid_texts = texts_in(bot, place.group)
    assert len([t for t in grid_texts if "日报" in t]) == 4
    for text in grid_texts:
        assert "探访按期率" not in text and "逾期未访" not in text
        for name in ("曹大爷", "李奶奶", "王大爷", "139****1111", "3号楼2单元101"):
            assert name not in text


async def test_english_supervisor_digest(bot: Harness) -> None:
    place = await town(bot)
    await add_person(bot, place, "曹大爷")
    messages = await build_daily_digests(
        bot.storage, catalog=CATALOG, texts=Texts("en"), tz=TZ, now=local(11, 18)
    )
    office = next(m.text for m in messages if m.chat_id == place.office.id)
    assert "Care visits on time: 0.0% (0/1)" in office
    assert "Care visits overdue</b> (1, listed on Mondays)" in office
    assert "· 2d overdue" in office
    grid = next(m.text for m in messages if m.chat_id == place.group.id)
    assert "Care" not in grid and "曹大爷" not in grid


# -- the ledger -----------------------------------------------------------------------------


async def visited_roster(storage: Storage) -> tuple[Roster, dict[str, CarePerson]]:
    """曹大爷 visited twice (the second found something: a 求助 ticket), 李奶奶 never, 赵爷爷 in
    another community."""
    r = await roster(storage)
    people = {
        "cao": await r.add("第一网格", "曹大爷"),
        "li": await r.add("第一网格", "李奶奶", KEY, contact="儿子 0471-3456789"),
        "zhao": await r.add("和平网格", "赵爷爷"),
    }
    r.clock.set(local(1, 10))
    await r.visit(people["cao"], note="精神不错")
    r.clock.set(local(3, 15.5))
    await r.visit(people["cao"], VisitOutcome.CONCERN, way=VisitWay.CALL, note="=咳嗽 需复诊")
    r.clock.set(local(4, 9))
    await r.visit(people["zhao"])
    return r, people


async def ledger(
    r: Roster, fmt: LedgerFormat, what: LedgerPart, **filters: Any
) -> tuple[Written, io.BytesIO]:
    """The ledger of ``r``'s storage at its clock's now: what it holds, and the file."""
    buffer = io.BytesIO()
    written = await export_ledger(
        r.storage, fmt, buffer, catalog=CATALOG, tz=TZ, now=r.clock.now(), what=what, **filters
    )
    return written, buffer


async def test_the_xlsx_ledger_has_a_care_sheet(storage: Storage) -> None:
    r, people = await visited_roster(storage)
    written, buffer = await ledger(r, "xlsx", "all")
    assert (written.tickets, written.care, written.people, written.visits) == (1, True, 3, 3)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        assert archive.testzip() is None
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    assert book.sheetnames == ["台账", "关爱走访"]
    assert book.active.title == "台账"
    tickets = list(book["台账"].iter_rows(values_only=True))
    assert tuple(tickets[0]) == LEDGER_COLUMNS and len(tickets) == 2
    sheet = book["关爱走访"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:N5"
    assert sheet.print_title_rows == "$1:$1"
    rows = list(sheet.iter_rows(values_only=True))
    assert tuple(rows[0]) == CARE_COLUMNS
    by = [dict(zip(CARE_COLUMNS, row, strict=True)) for row in rows[1:]]
    cao = people["cao"].id
    assert [(row["编号"], row["称呼"]) for row in by] == [
        (cao, "曹大爷"),
        (cao, "曹大爷"),
        (people["li"].id, "李奶奶"),
        (people["zhao"].id, "赵爷爷"),
    ]
    first, second, never, other = by
    assert (first["网格"], first["社区"], first["等级"], first["状态"]) == (
        "第一网格",
        "通顺社区",
        "高风险",
        "在册",
    )
    assert first["紧急联系人"] == "女儿 138****5678"  # masked, even in the ledger
    assert never["紧急联系人"] == "儿子 0471-***6789"
    assert first["走访时间"] == datetime(2026, 11, 27, 10, 0)  # Beijing time
    assert (first["方式"], first["结果"], first["备注"], first["关联工单"]) == (
        "上门",
        "正常",
        "精神不错",
        None,
    )
    ticket_id = tickets[1][0]
    assert (second["方式"], second["结果"], second["关联工单"]) == (
        "电话/视频",
        "异常需跟进",
        ticket_id,
    )
    assert second["备注"] == "=咳嗽 需复诊"  # text, never a formula
    assert second["走访时间"] == datetime(2026, 11, 29, 15, 30)
    assert never["走访人"] == "刘网格员"  # the visitor on the roster
    assert [never[c] for c in ("走访时间", "方式", "结果", "备注", "关联工单")] == [None] * 5
    assert other["社区"] == "和平社区"

    # a scope's grids only; a ledger of grids without a roster has no care sheet at all
    written, scoped = await ledger(
        r, "xlsx", "all", empty_care=False, grid_ids=[r.grids["第二网格"].id]
    )
    assert not written.care and load_workbook(scoped).sheetnames == ["台账"]
    _, mine = await ledger(r, "xlsx", "care", community="和平社区")
    book = load_workbook(mine)
    assert book.sheetnames == ["关爱走访"]
    assert [row[3] for row in book.active.iter_rows(min_row=2, values_only=True)] == ["赵爷爷"]


async def test_the_csv_care_ledger_is_a_file_of_its_own(storage: Storage) -> None:
    r, people = await visited_roster(storage)
    written, buffer = await ledger(r, "csv", "care", grid_ids=[r.grids["第一网格"].id])
    assert (written.tickets, written.people, written.visits) == (0, 2, 2)
    raw = buffer.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == CARE_COLUMNS and len(rows) == 4
    assert {r[3] for r in rows[1:]} == {"曹大爷", "李奶奶"}
    assert rows[1][9] == "2026-11-27 10:00" and rows[2][12] == "'=咳嗽 需复诊"
    assert rows[1][8] == "女儿 138****5678" and "13812345678" not in raw.decode("utf-8-sig")
    # the days narrow the visits; a person without a visit in them keeps one row
    _, since = await ledger(
        r, "csv", "care", since=date(2026, 11, 29), grid_ids=[r.grids["第一网格"].id]
    )
    rows = list(csv.reader(io.StringIO(since.getvalue().decode("utf-8-sig"), newline="")))
    assert [(r[3], r[11]) for r in rows[1:]] == [("曹大爷", "异常需跟进"), ("李奶奶", "")]
    with pytest.raises(ValueError, match="one table"):
        await ledger(r, "csv", "all")
    assert people["zhao"].name not in since.getvalue().decode("utf-8-sig")


def test_cli_export_what_care(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_database(tmp_path, monkeypatch, visited_roster)

    out = tmp_path / "关爱.csv"
    assert main(["export", "--what", "care", "--output", str(out)]) == 0
    said = capsys.readouterr().out.strip()
    assert said == ZH("care_fig.cli_exported", people=3, visits=3, path=out)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
    assert tuple(rows[0]) == CARE_COLUMNS and len(rows) == 5
    assert out.stat().st_mode & 0o777 == 0o600  # the roster is as private as the tickets

    book = tmp_path / "台账.xlsx"
    assert main(["export", "--what", "all", "--output", str(book), "--grid", "第一网格"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [
        ZH("cli.exported", count=1, path=book),
        ZH("care_fig.cli_exported", people=2, visits=2, path=book),
    ]
    assert load_workbook(book).sheetnames == ["台账", "关爱走访"]

    both = tmp_path / "台账.csv"
    assert main(["export", "--what", "all", "--output", str(both)]) == 0
    assert care_path(both) == tmp_path / "台账_关爱走访.csv"
    assert care_path(both).read_text(encoding="utf-8-sig").startswith(",".join(CARE_COLUMNS))
    assert both.read_text(encoding="utf-8-sig").startswith(",".join(LEDGER_COLUMNS))
    capsys.readouterr()

    # the default stays the tickets; nobody matching is said on stderr
    assert main(["export", "--output", str(tmp_path / "t.csv")]) == 0
    assert "工单" in capsys.readouterr().out
    assert main(["export", "--what", "care", "--output", str(out), "--grid", "无"]) == 0
    assert ZH("care_fig.cli_empty") in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["export", "--what", "nothing", "--output", str(out)])
    assert refused.value.code == 2


async def test_export_in_telegram_adds_the_care_sheet(bot: Harness) -> None:
    place = await town(bot)
    private = bot.sim.private_chat(bot.admin)
    await bot.say(place.group, place.resident, "#报修 3号楼灯不亮")
    await bot.say(private, bot.admin, "/export")
    [first] = [m for m in bot.sim.bot_messages(private.id) if "document" in m]
    assert "关爱" not in first.get("caption", "")  # no roster: the ledger as it was
    assert load_workbook(io.BytesIO(_document(bot, first))).sheetnames == ["台账"]

    person = await add_person(bot, place, "曹大爷")
    bot.clock.advance(DAY)
    await visit(bot, place, person, note="精神不错")
    await bot.say(private, bot.admin, "/export")
    latest = [m for m in bot.sim.bot_messages(private.id) if "document" in m][-1]
    assert "关爱走访 1 人、走访 1 次" in latest["caption"]
    book = load_workbook(io.BytesIO(_document(bot, latest)))
    assert book.sheetnames == ["台账", "关爱走访"]
    rows = list(book["关爱走访"].iter_rows(min_row=2, values_only=True))
    assert [(r[3], r[11], r[12]) for r in rows] == [("曹大爷", "正常", "精神不错")]
    # asked in the group by its officer: the workbook goes to her privately, the group hears
    # no name
    await bot.say(place.group, place.officer, "/export")
    officer_chat = bot.sim.private_chat(place.officer)
    sent = [m for m in bot.sim.bot_messages(officer_chat.id) if "document" in m]
    assert len(sent) == 1
    assert "关爱走访" in load_workbook(io.BytesIO(_document(bot, sent[0]))).sheetnames
    assert not any("document" in m for m in bot.sim.bot_messages(place.group.id))
    assert not any("曹大爷" in t for t in texts_in(bot, place.group))
    # the office chat is staff: the workbook is posted there, with the roster
    staff = bot.sim.add_user("社区小赵")
    bot.sim.set_member(place.office, staff, "member")
    await bot.say(place.office, staff, "/export")
    posted = [m for m in bot.sim.bot_messages(place.office.id) if "document" in m][-1]
    assert "关爱走访" in load_workbook(io.BytesIO(_document(bot, posted))).sheetnames


def _document(bot: Harness, message: dict[str, Any]) -> bytes:
    file_id = message["document"]["file_id"]
    return bot.sim.file_bytes(bot.sim.file_path(file_id))


# -- the web page ---------------------------------------------------------------------------


async def test_the_web_page_shows_the_rate_and_the_scopes_care_ledger(
    bot: Harness, database: Path | str
) -> None:
    place = await web_town(bot)
    grids = {g.name: g for g in await bot.storage.grids.grids()}
    desk = runtime_of(bot.app).care_desk
    officer = care.Actor(place.officer.id, place.officer.first_name)
    start = bot.clock.now()
    made = {}
    for name, grid in (("曹大爷", "第一网格"), ("李奶奶", "第一网格"), ("赵爷爷", "第三网格")):
        made[name] = await add_to(
            desk, grid_id=grids[grid].id, name=name, officer=officer, now=start, address="3号楼"
        )
    bot.clock.set(start + 8 * DAY)
    await record(
        desk, made["曹大爷"], officer=officer, now=bot.clock.now(), grid_chat_id=place.grid1.id
    )
    bot.clock.set(start + 10 * DAY)
    async with site(bot, database) as web:
        staff = await web.as_user(place.staff)  # 通顺社区: 第一、第二网格
        page = (await staff.get("/")).text
        assert 'id="care"' in page
        assert "50.0%" in page and "分子/分母 1/2" in page
        assert "data-care-people>2<" in page
        admin = await web.as_user(bot.admin)
        everything = (await admin.get("/")).text
        assert "分子/分母 1/3" in everything and "data-care-people>3<" in everything
        # 和平社区 keeps a roster (赵爷爷, whose visit is missed) until he leaves it: from then
        # on its grids say nothing of care (nothing fell due in them either)
        peace = grids["第三网格"].community_id
        assert "分子/分母 0/1" in (await admin.get(f"/?community={peace}")).text
        assert await care.end(desk, made["赵爷爷"], "搬走", officer, start) is not None
        bot.clock.set(start + 30 * DAY)
        admin = await web.as_user(bot.admin)  # a session lasts 12 hours
        gone = (await admin.get(f"/?community={peace}")).text
        assert "第三网格" in gone and 'id="care"' not in gone
        assert 'id="care"' in (await admin.get("/")).text  # 通顺社区 still keeps one
        staff = await web.as_user(place.staff)

        # the ledger: the xlsx's second sheet and the CSV of its own, the scope's grids only
        table = (await staff.get("/tickets")).text
        assert "/ledger-care.csv" in table
        xlsx = await staff.get("/ledger.xlsx")
        book = load_workbook(io.BytesIO(xlsx.content))
        assert book.sheetnames == ["台账", "关爱走访"]
        names = [r[3] for r in book["关爱走访"].iter_rows(min_row=2, values_only=True)]
        assert names == ["曹大爷", "李奶奶"]
        download = await staff.get("/ledger-care.csv")
        assert download.status_code == 200
        assert "%E5%85%B3%E7%88%B1" in download.headers["content-disposition"]  # 关爱走访_…
        rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
        assert tuple(rows[0]) == CARE_COLUMNS
        assert [r[3] for r in rows[1:]] == ["曹大爷", "李奶奶"]
        assert "13812345678" not in download.content.decode("utf-8-sig")
        one = await staff.get(f"/ledger-care.csv?grid={grids['第二网格'].id}")
        assert len(list(csv.reader(io.StringIO(one.content.decode("utf-8-sig"))))) == 1
        other = await staff.get(f"/ledger-care.csv?grid={grids['第三网格'].id}")
        assert "赵爷爷" not in other.content.decode("utf-8-sig")  # not theirs
        # the ticket table of grids without a roster offers no care download
        assert (
            "/ledger-care.csv"
            not in (await staff.get(f"/tickets?grid={grids['第二网格'].id}")).text
        )
        audit = [a[2] for a in await web.audit() if a[1] == AuditAction.DOWNLOAD]
        assert "care-csv" in audit and "xlsx" in audit


def test_the_sheet_writer_writes_declared_sheets_one_after_the_other() -> None:
    buffer = io.BytesIO()
    writer = SheetWriter(
        buffer,
        title="台账",
        header=["一", "链接"],
        widths=[8, 30],
        header_fill="1F4E78",
        link_column=1,
        more=[Sheet("关爱走访", ["甲", "乙", "丙"], [8, 8, 8]), Sheet("空", ["无"], [8])],
    )
    writer.append(["1", "https://t.me/c/1/2"])
    writer.next_sheet()
    assert writer.rows == 0
    writer.append(["a", 2, datetime(2026, 11, 26, 10, 0)])
    writer.append(["b", None, None])
    writer.close()  # the third sheet, never begun, is written with its header alone
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    assert book.sheetnames == ["台账", "关爱走访", "空"] and book.active.title == "台账"
    first, second, third = (book[name] for name in book.sheetnames)
    assert first["B2"].hyperlink is not None and first.auto_filter.ref == "A1:B2"
    assert [[c.value for c in row] for row in second.iter_rows()] == [
        ["甲", "乙", "丙"],
        ["a", 2, datetime(2026, 11, 26, 10, 0)],
        ["b", None, None],
    ]
    assert second.auto_filter.ref == "A1:C3" and second.print_title_rows == "$1:$1"
    assert second.freeze_panes == "A2" and second["A1"].font.b
    assert [[c.value for c in row] for row in third.iter_rows()] == [["无"]]

    def one_column(*more: Sheet) -> SheetWriter:
        return SheetWriter(
            io.BytesIO(), title="表", header=["一"], widths=[8], header_fill="000000", more=more
        )

    lone = one_column()
    with pytest.raises(ValueError, match="no other sheet"):
        lone.next_sheet()
    with pytest.raises(ValueError, match="two sheets"):
        one_column(Sheet("表", ["二"], [8]))
    with pytest.raises(ValueError, match="one width per column"):
        one_column(Sheet("乙", ["二"], [8, 9]))
