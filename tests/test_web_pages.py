"""The staff web page's content over HTTP: overview, ticket table, a ticket, photos, the ledger.

Tickets come from the bot itself, in-process on the simulator (tests/harness.py): residents
report in grid groups, officers take, progress and resolve, the 回访 is answered with its
buttons. The page is the real Starlette app (bot.web.app + bot.web.pages) on its own Storage
over the same database, reached through httpx's ASGI transport, and people log in the way they
do: /web in a private chat, then the link's button. What the page shows is compared with what
the bot's own code counts (bot.metrics, storage.metrics). Both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from telegram import Bot

from bot.callbacks import RatingPress, encode
from bot.context import runtime_of
from bot.digest import local_day
from bot.metrics import Period, Rate, Rates, rates_by_grid
from bot.simulator import SimulatorRequest
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from bot.web import format as web_format
from bot.web.app import WebRuntime, build_web_app, web_runtime
from bot.web.overview import CHART_WEEKS, OverviewCache, chart_periods, week_bounds
from bot.web.svg import ChartWeek, nice_ceiling, trend_chart
from storage import Storage, Ticket
from storage.vocabulary import AuditAction
from storage.webviews import WebViews
from tests.harness import Harness
from tests.waiting import eventually

SITE = "http://127.0.0.1:8080"
LINK = re.compile(r"https?://\S+?/login\?t=([A-Za-z0-9_.%-]+)")
PNG = b"\x89PNG\r\n\x1a\n" + b"\1" * 64
TZ = ZoneInfo("Asia/Shanghai")


# -- reading pages --------------------------------------------------------------------------------


@dataclass
class Cell:
    text: str = ""
    links: list[str] = field(default_factory=list)


@dataclass
class TableRow:
    attrs: dict[str, str]
    cells: list[Cell] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.cells]


class _Tables(HTMLParser):
    """Every ``<table id=…>``'s body rows: their attributes, and each cell's text and links."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[TableRow]] = {}
        self._table: str | None = None
        self._in_body = False
        self._row: TableRow | None = None
        self._cell: Cell | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "table" and "id" in found:
            self._table = found["id"]
            self.tables[self._table] = []
        elif tag == "tbody" and self._table:
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table:
            self._row = TableRow(found)
            self.tables[self._table].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = Cell()
            self._row.cells.append(self._cell)
        elif tag == "a" and self._cell is not None:
            self._cell.links.append(found.get("href", ""))
        elif tag == "br" and self._cell is not None:
            self._cell.text += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self._cell.text = self._cell.text.strip()
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.text += data


def tables(html: str) -> dict[str, list[TableRow]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def ids_in(html: str) -> list[int]:
    return [int(row.attrs["data-id"]) for row in tables(html).get("tickets", [])]


def total_in(html: str) -> int:
    found = re.search(r'data-total="(\d+)"', html)
    assert found is not None
    return int(found.group(1))


def count(text: str) -> int:
    return int(text.replace(",", ""))


def share_and_fraction(text: str) -> tuple[str, str]:
    share, fraction = text.split()
    return share, fraction


# -- the site -------------------------------------------------------------------------------------


@dataclass
class Site:
    web: WebRuntime
    transport: httpx.ASGITransport
    bot: Harness
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def as_user(self, user: SimUser) -> httpx.AsyncClient:
        """A browser of ``user``, logged in: /web in her private chat, then the link's button."""
        chat = self.bot.sim.private_chat(user)
        await self.bot.say(chat, user, "/web")
        found = LINK.search(str(self.bot.sim.bot_messages(chat.id)[-1].get("text", "")))
        assert found is not None, self.bot.sim.bot_messages(chat.id)[-1]
        client = httpx.AsyncClient(transport=self.transport, base_url=SITE)
        self.clients.append(client)
        answer = await client.post("/login", data={"t": found.group(1)})
        assert answer.status_code == 303, answer.text
        return client

    async def audit(self) -> list[tuple[int | None, str, str]]:
        entries = await self.web.storage.web.audit_page(1000)
        return [(e.user_id, e.action, e.target) for e in reversed(entries)]


@asynccontextmanager
async def site(bot: Harness, database: Path | str, **changes: Any) -> AsyncIterator[Site]:
    """`linlitong web` on the bot's database: its own Storage and Bot, the bot's clock; the
    overview counted afresh at every page (no snapshot kept), so it follows every change.
    ``changes``: settings of the page only."""
    settings = runtime_of(bot.app).settings.model_copy(update=changes)
    storage = await Storage.open(database, migrate=False, create=False)
    try:
        async with Bot(settings.token(), request=SimulatorRequest(bot.sim)) as page_bot:
            web = web_runtime(settings, storage, page_bot, bot.clock)
            app = build_web_app(web)
            app.state.overview = OverviewCache(fresh_for=timedelta(0), stale_for=timedelta(0))
            opened = Site(web, httpx.ASGITransport(app=app), bot)
            try:
                yield opened
            finally:
                for client in opened.clients:
                    await client.aclose()
    finally:
        await storage.close()


@dataclass
class Town:
    """Two communities: 第一网格 and 第二网格 of 通顺社区, 第三网格 of 和平社区."""

    grid1: SimChat
    grid2: SimChat
    grid3: SimChat
    resident: SimUser
    neighbour: SimUser
    officer: SimUser  # named officer of 第一网格
    staff: SimUser  # member of 通顺社区's supervisor chat


async def town(bot: Harness) -> Town:
    sim = bot.sim
    resident, neighbour = sim.add_user("王阿姨"), sim.add_user("李大爷")
    officer, staff = sim.add_user("刘网格员"), sim.add_user("小赵")
    grid1 = await bot.grid("北瑞一网格", resident, neighbour, officer, grid="第一网格")
    grid2 = await bot.grid("北瑞二网格", resident, neighbour, grid="第二网格")
    grid3 = await bot.grid("和平里网格", resident, grid="第三网格", community="和平社区")
    hello = sim.send_text(grid1, officer, "大家好")
    await bot.say(grid1, bot.admin, "/officer", reply_to=hello["message_id"])
    office = bot.group("通顺社区督办群", staff)
    await bot.say(office, bot.admin, "/supervise 通顺社区")
    return Town(grid1, grid2, grid3, resident, neighbour, officer, staff)


async def grid_ids(bot: Harness) -> dict[str, int]:
    return {g.name: g.id for g in await bot.storage.grids.grids()}


async def seed_work(bot: Harness, place: Town) -> dict[str, Ticket]:
    """A small week of work in three grids: opened, taken, resolved, rated, overdue."""
    made: dict[str, Ticket] = {}
    _, made["lamp"] = await bot.report(place.grid1, place.resident, "#报修 3号楼2单元楼道灯不亮")
    _, made["leak"] = await bot.report(
        place.grid1, place.neighbour, "#积水 5号楼门口积水，电话13812345678"
    )
    _, made["bins"] = await bot.report(place.grid2, place.resident, "#环境 2号楼垃圾桶满了")
    _, made["help"] = await bot.report(place.grid3, place.resident, "#求助 和平里7号楼老人摔倒")
    await bot.say(place.grid1, place.officer, f"/take {made['lamp'].id}")
    await bot.say(place.grid1, place.officer, f"/done {made['lamp'].id} 灯已换好")
    await bot.say(place.grid2, bot.admin, f"/take {made['bins'].id}")
    bot.clock.advance(timedelta(hours=30))  # 求助 (1 day) and 积水's response are overdue now
    _, made["late"] = await bot.report(place.grid1, place.resident, "#报修 3号楼电梯异响")
    return made


# -- the overview ---------------------------------------------------------------------------------


async def test_the_overview_shows_what_the_bot_counts_per_grid(
    bot: Harness, database: Path | str
) -> None:
    place = await town(bot)
    await seed_work(bot, place)
    ids = await grid_ids(bot)
    now = bot.clock.now()
    metrics = bot.storage.metrics
    day, day_start, day_end = local_day(now, TZ)
    week_start, week_end = week_bounds(day, TZ)
    today = await metrics.day_counts_by_grid(day_start, day_end, now)
    week = await metrics.day_counts_by_grid(week_start, week_end, now)
    seven = await rates_by_grid(metrics, Period.last(7, now), list(ids.values()))
    thirty = await rates_by_grid(metrics, Period.last(30, now), list(ids.values()))
    async with site(bot, database) as web:
        admin = await web.as_user(bot.admin)
        page = await admin.get("/")
        assert page.status_code == 200, page.text
        found = tables(page.text)

        counts = {int(r.attrs["data-grid"]): r.texts for r in found["grid-counts"]}
        assert set(counts) == set(ids.values())
        for grid_id, cells in counts.items():
            want_today = list(today.get(grid_id, {}).values())
            want_week = list(week.get(grid_id, {}).values())
            assert [count(c) for c in cells[2:8]] == [
                sum(c.new for c in want_today),
                sum(c.resolved for c in want_today),
                sum(c.new for c in want_week),
                sum(c.resolved for c in want_week),
                sum(c.open for c in want_today),
                sum(c.overdue for c in want_today),
            ], cells
        # the seeded week, spelled out: 第一网格 opened 3 and resolved 1; 第三网格's 求助 is late
        assert [count(c) for c in counts[ids["第一网格"]][4:8]] == [3, 1, 2, 0]
        assert [count(c) for c in counts[ids["第三网格"]][6:8]] == [1, 1]

        rates = {int(r.attrs["data-grid"]): r for r in found["grid-rates"]}
        for grid_id, row in rates.items():
            shown = [share_and_fraction(c) for c in row.texts[3:9]]
            want = [
                *_rate_cells(seven[grid_id]),
                *_rate_cells(thirty[grid_id]),
            ]
            assert shown == want, (row.texts, want)
        # ranked as the digests rank: by 解决率 first; 第一网格 resolved its lamp in time
        first = found["grid-rates"][0].texts
        assert (first[0], first[1]) == ("1", "第一网格")

        # two communities: each the sum of its grids (counts added, not percentages averaged)
        communities = {r.texts[1]: r.texts for r in found["community-rates"]}
        assert set(communities) == {"通顺社区", "和平社区"}
        tongshun = [ids["第一网格"], ids["第二网格"]]
        assert count(communities["通顺社区"][2]) == 2
        assert count(communities["通顺社区"][4]) == sum(
            c.new for g in tongshun for c in week.get(g, {}).values()
        )
        summed = Rates.combine(seven[g] for g in tongshun)
        assert [share_and_fraction(c) for c in communities["通顺社区"][8:11]] == [
            (web_format.percent(r.value), web_format.fraction(r))
            for r in (summed.resolution, summed.response, summed.satisfaction)
        ]
        # what /stats says for everything over 7 days is what the page's totals say
        stats = await bot.say(bot.sim.private_chat(bot.admin), bot.admin, "/stats")
        answer = bot.reply_text(bot.sim.private_chat(bot.admin), stats)
        total = Rates.combine(seven.values())
        assert total.resolution.format() in answer
        assert web_format.fraction(total.resolution) in page.text


def _rate_cells(rates: Rates) -> list[tuple[str, str]]:
    return [
        (web_format.percent(rate.value), web_format.fraction(rate))
        for rate in (rates.resolution, rates.response, rates.satisfaction)
    ]


async def test_an_officer_sees_her_grid_and_staff_their_community(
    bot: Harness, database: Path | str
) -> None:
    place = await town(bot)
    await seed_work(bot, place)
    async with site(bot, database) as web:
        officer = await web.as_user(place.officer)
        mine = tables((await officer.get("/")).text)
        assert [r.texts[0] for r in mine["grid-counts"]] == ["第一网格"]
        staff = await web.as_user(place.staff)
        theirs = (await staff.get("/")).text
        assert [r.texts[0] for r in tables(theirs)["grid-counts"]] == ["第一网格", "第二网格"]
        assert "第三网格" not in theirs


async def test_the_trend_chart_draws_twelve_weeks(bot: Harness, database: Path | str) -> None:
    place = await town(bot)
    await seed_work(bot, place)
    async with site(bot, database) as web:
        admin = await web.as_user(bot.admin)
        page = (await admin.get("/")).text
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    assert "<script" not in svg and "style=" not in svg and "on" + "load" not in svg
    assert 'role="img"' in svg and '<title id="trend-title">' in svg
    bars = re.findall(r"<rect [^>]*><title>([^<]*)</title></rect>", svg)
    assert len(bars) == 2 * CHART_WEEKS
    labels = re.findall(r'<text [^>]*text-anchor="middle"[^>]*>([^<]*)</text>', svg)
    assert len(labels) == CHART_WEEKS
    monday, _ = week_bounds(bot.clock.now().astimezone(TZ).date(), TZ)
    assert labels[-1] == f"{monday.month}/{monday.day}"  # the last week is this one
    assert bars[-2].endswith("当周新增 5") and bars[-1].endswith("当周办结 1")
    weeks = tables(page)["trend"]  # the same figures as a table, for whoever cannot see it
    assert len(weeks) == CHART_WEEKS
    assert [count(c) for c in weeks[-1].texts[1:3]] == [5, 1]
    assert all(row.texts[1:3] == ["0", "0"] for row in weeks[:-1])


async def test_without_grids_the_overview_says_how_to_bind(
    bot: Harness, database: Path | str
) -> None:
    async with site(bot, database) as web:
        admin = await web.as_user(bot.admin)
        page = await admin.get("/")
        assert page.status_code == 200
        assert "/bind 网格名 社区名" in page.text and "<svg" not in page.text
        empty = await admin.get("/tickets")
        assert "还没有工单" in empty.text


# -- the ticket table ------------------------------------------------------------------------------


async def test_filters_and_sorting_change_the_rows(bot: Harness, database: Path | str) -> None:
    place = await town(bot)
    made = await seed_work(bot, place)
    ids = await grid_ids(bot)
    async with site(bot, database) as web:
        admin = await web.as_user(bot.admin)

        async def rows(query: str) -> list[int]:
            page = await admin.get(f"/tickets?{query}")
            assert page.status_code == 200, page.text
            return ids_in(page.text)

        every = [made[k].id for k in ("late", "help", "bins", "leak", "lamp")]
        assert await rows("") == every  # newest first
        assert await rows("dir=asc") == every[::-1]
        assert await rows(f"grid={ids['第一网格']}") == [
            made[k].id for k in ("late", "leak", "lamp")
        ]
        assert await rows("status=resolved") == [made["lamp"].id]
        assert await rows("status=open") == [made[k].id for k in ("late", "help", "bins", "leak")]
        assert await rows("category=water") == [made["leak"].id]
        assert await rows("overdue=1") == [made["help"].id]
        assert await rows("q=3号楼") == [made[k].id for k in ("late", "lamp")]
        assert await rows("q=100%25") == []  # a literal %, not a wildcard
        today = bot.clock.now().astimezone(TZ).date()
        assert await rows(f"from={today.isoformat()}") == [made["late"].id]
        yesterday = (today - timedelta(days=1)).isoformat()
        assert await rows(f"to={yesterday}") == every[1:]
        # by the resolution deadline, soonest first: 求助 (1 day) before the 3-day repairs
        assert (await rows("sort=due"))[0] == made["help"].id
        by_grid = await rows("sort=grid")
        assert by_grid[-1] == made["help"].id  # 第三网格 has the highest id
        # unknown or hostile values are left out, not obeyed
        assert await rows("sort=body;DROP TABLE tickets&status=nope&grid=999&page=x") == every
        # an officer's grid filter cannot reach another grid
        officer = await web.as_user(place.officer)
        page = await officer.get(f"/tickets?grid={ids['第三网格']}")
        assert ids_in(page.text) == [made[k].id for k in ("late", "leak", "lamp")]


async def test_the_table_pages_fifty_at_a_time(bot: Harness, database: Path | str) -> None:
    place = await town(bot)
    for n in range(53):
        bot.sim.send_text(place.grid2, place.resident, f"#报修 {n + 1}号楼楼道灯不亮")
    await bot.drain()
    async with site(bot, database) as web:
        admin = await web.as_user(bot.admin)
        first = await admin.get("/tickets")
        assert total_in(first.text) == 53 and "共 53 个工单" in first.text
        shown = ids_in(first.text)
        assert len(shown) == 50 and shown == sorted(shown, reverse=True)
        assert 'href="/tickets?page=2"' in first.text and 'rel="next"' in first.text
        second = await admin.get("/tickets?page=2")
        rest = ids_in(second.text)
        assert len(rest) == 3 and not set(rest) & set(shown)
        assert 'rel="next"' not in second.text and 'href="/tickets"' in second.text
        beyond = await admin.get("/tickets?page=9")  # past the end: the last page
        assert ids_in(beyond.text) == rest
        # a sort link keeps the filters and starts again at page 1
        sorted_page = await admin.get("/tickets?sort=due&page=2&q=楼道灯")
        assert "第 2 / 2 页" in sorted_page.text and len(ids_in(sorted_page.text)) == 3
        heads = re.findall(r'<a class="sort" href="([^"]+)"', sorted_page.text)
        assert len(heads) == 4 and all("q=%E6%A5%BC%E9%81%93%E7%81%AF" in h for h in heads)
        assert not any("page=" in h for h in heads)
        assert "/tickets?q=%E6%A5%BC%E9%81%93%E7%81%AF&amp;sort=due&amp;dir=desc" in heads[3]


async def test_each_row_links_to_its_ticket_and_its_message(
    bot: Harness, database: Path | str
) -> None:
    place = await town(bot)
    message, ticket = await bot.report(place.grid1, place.resident, "#报修 3号楼楼道灯不亮")
    async with site(bot, database) as web:
        admin = await web.as_user(bot.admin)
        row = tables((await admin.get("/tickets")).text)["tickets"][0]
        links = [link for cell in row.cells for link in cell.links]
        assert f"/tickets/{ticket.id}" in links
        supergroup = str(-place.grid1.id - 1_000_000_000_000)
        assert f"https://t.me/c/{supergroup}/{message['message_id']}" in links


# -- the ledger ----------------------------------------------------------------------------------


async def test_the_csv_holds_exactly_the_filtered_rows(
    bot: Harness, database: Path | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"  # TMPDIR of this test alone: what the downloads leave there
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    place = await town(bot)
    await seed_work(bot, place)
    ids = await grid_ids(bot)
    async with site(bot, database) as web:
        staff = await web.as_user(place.staff)
        for query in ("", "status=open", f"grid={ids['第一网格']}&q=楼", "overdue=1", "grid=1"):
            table = ids_in((await staff.get(f"/tickets?{query}")).text)
            download = await staff.get(f"/ledger.csv?{query}")
            assert download.status_code == 200
            assert download.headers["content-type"].startswith("text/csv")
            assert "attachment" in download.headers["content-disposition"]
            rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
            assert rows[0][0] == "工单号"
            assert sorted(int(r[0]) for r in rows[1:]) == sorted(table), query
        # 第三网格 is not theirs: nowhere in their ledger
        everything = await staff.get("/ledger.csv")
        assert "和平社区" not in everything.content.decode("utf-8-sig")
        assert "13812345678" in everything.content.decode("utf-8-sig")  # the ledger is unmasked

        xlsx = await staff.get("/ledger.xlsx?status=open")
        assert xlsx.status_code == 200
        assert "%E5%8F%B0%E8%B4%A6_" in xlsx.headers["content-disposition"]  # 台账_….xlsx
        with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
            assert "xl/worksheets/sheet1.xml" in book.namelist()
        downloads = [a for a in await web.audit() if a[1] == AuditAction.DOWNLOAD]
        assert downloads[0] == (place.staff.id, AuditAction.DOWNLOAD, "csv")
        assert (place.staff.id, AuditAction.DOWNLOAD, "xlsx?status=open") in downloads
    assert await asyncio.to_thread(lambda: list(scratch.iterdir())) == []  # nothing left behind


# -- one ticket -----------------------------------------------------------------------------------


async def test_a_ticket_shows_its_whole_story(bot: Harness, database: Path | str) -> None:
    place = await town(bot)
    report = bot.sim.send_media(
        place.grid1,
        place.resident,
        "photo",
        caption="#报修 3号楼2单元楼道灯不亮，电话13812345678",
        content=PNG,
    )
    await bot.drain()
    ticket = await bot.storage.tickets.by_message(place.grid1.id, report["message_id"])
    assert ticket is not None
    await bot.say(place.grid1, place.neighbour, "+1", reply_to=report["message_id"])
    await bot.say(place.grid1, place.officer, f"/take {ticket.id}")
    await bot.say(place.grid1, place.officer, f"/progress {ticket.id} 已联系电工")
    await bot.say(place.grid1, place.officer, f"/done {ticket.id} 灯已换好")
    await bot.tick(timedelta(hours=2))
    ask = next(m for m in bot.sim.bot_messages(place.grid1.id) if "满意吗" in m.get("text", ""))
    bot.sim.press_button(
        place.grid1, ask["message_id"], place.resident, encode(RatingPress(ticket.id, "u"))
    )
    await bot.drain()
    invite = next(
        m for m in bot.sim.bot_messages(place.grid1.id) if "回复这条消息" in m.get("text", "")
    )
    await bot.say(place.grid1, place.resident, "灯还是一闪一闪的", reply_to=invite["message_id"])
    media = await bot.storage.tickets.media(ticket.id)
    assert len(media) == 1

    async with site(bot, database) as web:
        officer = await web.as_user(place.officer)
        page = await officer.get(f"/tickets/{ticket.id}")
        assert page.status_code == 200, page.text
        text = page.text
        for shown in (
            "3号楼2单元楼道灯不亮",
            "13812345678",  # staff read the number unmasked (bot.privacy)
            "刘网格员",  # the assignee
            "已联系电工",  # a progress note
            "灯已换好",
            "不满意",  # the 回访 result …
            "灯还是一闪一闪的",  # … and the why
            "李大爷",  # the co-reporter
            "重办 1 次",
            "接单",
            "居民评价",
        ):
            assert shown in text, shown
        assert "138****5678" not in text
        photos = re.findall(r'<img src="(/tickets/\d+/media/\d+)"', text)
        assert len(photos) == 1
        picture = await officer.get(photos[0])
        assert picture.status_code == 200 and picture.content == PNG
        assert picture.headers["content-type"] == "image/png"
        assert runtime_of(bot.app).settings.token() not in text
        audit = await web.audit()
        assert (place.officer.id, AuditAction.VIEW_TICKET, str(ticket.id)) in audit
        media_id = photos[0].rsplit("/", 1)[1]
        assert (place.officer.id, AuditAction.VIEW_PHOTO, f"{ticket.id}/{media_id}") in audit


async def test_a_ticket_of_another_grid_is_a_missing_page(
    bot: Harness, database: Path | str
) -> None:
    place = await town(bot)
    report = bot.sim.send_media(place.grid3, place.resident, "photo", caption="#报修 7号楼")
    await bot.drain()
    theirs = await bot.storage.tickets.by_message(place.grid3.id, report["message_id"])
    assert theirs is not None
    media = await bot.storage.tickets.media(theirs.id)
    media_id = (await bot.storage.db.fetch_value("SELECT MAX(id) FROM ticket_media")) or 0
    assert media
    async with site(bot, database) as web:
        officer = await web.as_user(place.officer)
        missing = await officer.get("/tickets/999999")
        assert missing.status_code == 404
        for path in (f"/tickets/{theirs.id}", f"/tickets/{theirs.id}/media/{media_id}"):
            answer = await officer.get(path)
            assert answer.status_code == 404
            assert answer.text == missing.text
        admin = await web.as_user(bot.admin)
        assert (await admin.get(f"/tickets/{theirs.id}")).status_code == 200
        # a file id of another ticket is no way in either
        _, mine = await bot.report(place.grid1, place.resident, "#报修 3号楼")
        assert (await officer.get(f"/tickets/{mine.id}/media/{media_id}")).status_code == 404
        assert not any(a[1] == AuditAction.VIEW_TICKET and a[0] == place.officer.id
                       for a in await web.audit())  # fmt: skip


async def test_what_residents_write_is_shown_as_text(bot: Harness, database: Path | str) -> None:
    place = await town(bot)
    hostile = '#报修 <script>alert(1)</script> 3号楼"><img src=x onerror=alert(2)>'
    _, ticket = await bot.report(place.grid1, place.resident, hostile)
    async with site(bot, database) as web:
        admin = await web.as_user(bot.admin)
        for path in (f"/tickets/{ticket.id}", "/tickets", "/tickets?q=<script>"):
            page = await admin.get(path)
            assert page.status_code == 200
            assert "<script" not in page.text and "<img src=x" not in page.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert ids_in((await admin.get("/tickets?q=<script>")).text) == [ticket.id]


async def test_odd_query_strings_are_polite_pages_within_the_scope(
    bot: Harness, database: Path | str
) -> None:
    place = await town(bot)
    made = await seed_work(bot, place)
    theirs = (await grid_ids(bot))["第三网格"]
    huge = "9" * 25
    odd = [
        "/?community=²",  # str.isdigit() says yes, int() says no
        "/?community=abc",
        "/tickets?page=²",
        "/tickets?page=-1",
        f"/tickets?page={huge}",
        "/tickets?grid=²",
        "/tickets?grid=abc",
        "/tickets?from=2026-13-45",
        "/tickets?from=0001-01-01",  # its UTC bounds overflow a datetime
        "/tickets?to=9999-12-31",
        "/ledger.csv?to=9999-12-31",
        "/ledger.xlsx?from=0001-01-01",
        "/tickets?sort=evil&dir=evil",
        "/tickets?q=" + "x" * 5000,
        "/tickets?q=a%00b",
        f"/tickets/{huge}",  # beyond a 64-bit id
        f"/tickets/{made['lamp'].id}/media/{huge}",
    ]
    async with site(bot, database) as web:
        officer = await web.as_user(place.officer)
        admin = await web.as_user(bot.admin)
        for client in (officer, admin):
            for path in odd:
                answer = await client.get(path)
                assert answer.status_code in (200, 404), (path, answer.status_code)
        assert (await admin.get("/audit?before=²")).status_code == 200
        # the calendar's last whole days still filter
        everything = ids_in((await admin.get("/tickets?from=0001-01-02&to=9999-12-30")).text)
        assert sorted(everything) == sorted(t.id for t in made.values())
        # another grid's id in the filter widens nothing
        mine = ids_in((await officer.get("/tickets")).text)
        assert ids_in((await officer.get(f"/tickets?grid={theirs}")).text) == mine
        ledger = (await officer.get(f"/ledger.csv?grid={theirs}")).text
        assert "第三网格" not in ledger and "和平里" not in ledger


async def test_the_pages_speak_english_when_told(bot: Harness, database: Path | str) -> None:
    place = await town(bot)
    made = await seed_work(bot, place)
    async with site(bot, database, language="en") as web:
        admin = await web.as_user(bot.admin)
        for path, words in (
            ("/", ("Overview", "Resolution rate", "Grid ranking", "Week of")),
            ("/tickets", ("Download ledger (xlsx)", "5 tickets; showing 1–5", "Overdue only")),
            (f"/tickets/{made['lamp'].id}", ("Ticket", "History", "Resolution due")),
        ):
            page = await admin.get(path)
            assert page.status_code == 200, page.text
            assert all(word in page.text for word in words), (path, words)
            assert "近7天" not in page.text and "办结时限" not in page.text


# -- the parts ------------------------------------------------------------------------------------


def test_numbers_times_and_durations_in_chinese() -> None:
    texts = Texts("zh")
    now = datetime(2026, 11, 30, 6, 5, tzinfo=UTC)
    assert web_format.number(1234567) == "1,234,567" and web_format.number(None) == "—"
    assert web_format.percent(0.875) == "87.5%" and web_format.percent(None) == "—"
    assert web_format.fraction(Rate(7, 8)) == "7/8"
    assert web_format.short_moment(now, TZ, texts, now) == "11月30日 14:05"
    last_year = now - timedelta(days=365)
    assert web_format.short_moment(last_year, TZ, texts, now) == "2025-11-30 14:05"
    assert web_format.full_moment(now, TZ) == "2026-11-30 14:05"
    assert web_format.duration(timedelta(days=3, hours=2), texts) == "3天2小时"
    assert web_format.duration(timedelta(seconds=20), texts) == "不到1分钟"
    assert web_format.duration(timedelta(seconds=-1), texts) == "—"
    assert web_format.day(date(2026, 11, 30), texts) == "11月30日"
    assert web_format.day(date(2026, 11, 30), Texts("en")) == "Nov 30"


def test_the_chart_escapes_its_words_and_breaks_its_line_where_nothing_was_due() -> None:
    start = datetime(2026, 11, 2, tzinfo=TZ)
    weeks = [
        ChartWeek(start, 3, 2, Rate(1, 2)),
        ChartWeek(start + timedelta(days=7), 0, 0, Rate(0, 0)),
        ChartWeek(start + timedelta(days=14), 1234, 5, Rate(5, 5)),
    ]
    svg = str(trend_chart(weeks, title='<script>"x"</script>', texts=Texts("zh"), tz=TZ))
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<polyline") == 0  # two points, not joined across the empty week
    assert svg.count("<circle") == 2 and "—" not in svg.split("<desc")[0]
    assert "1,234" in svg and "100.0%（5/5）" in svg
    assert nice_ceiling(0) == 4 and nice_ceiling(7) == 10 and nice_ceiling(1234) == 2000


async def test_a_snapshot_serves_a_minute_then_is_taken_again(
    bot: Harness, database: Path | str
) -> None:
    place = await town(bot)
    cache = OverviewCache()  # the running page's policy: fresh a minute, shown up to ten
    tz = runtime_of(bot.app).settings.tz
    first = await cache.snapshot(bot.storage.db, tz, bot.clock.now())
    assert sum(c.new for c in first.today.values()) == 0
    await bot.report(place.grid1, place.resident, "#报修 3号楼楼道灯不亮")
    assert await cache.snapshot(bot.storage.db, tz, bot.clock.now()) is first
    bot.clock.advance(timedelta(minutes=2))
    stale = await cache.snapshot(bot.storage.db, tz, bot.clock.now())
    assert stale is first  # shown while the next one is taken
    fresh = await cache.snapshot(bot.storage.db, tz, bot.clock.now())
    while fresh is first:  # the background one has finished by the next page
        assert cache._taking is not None
        await cache._taking
        fresh = await cache.snapshot(bot.storage.db, tz, bot.clock.now())
    assert sum(c.new for c in fresh.today.values()) == 1
    bot.clock.advance(timedelta(minutes=11))  # too old to show: the page waits for a new one
    newest = await cache.snapshot(bot.storage.db, tz, bot.clock.now())
    assert newest.taken_at == bot.clock.now()


async def test_the_running_page_takes_the_figures_before_anyone_asks(
    bot: Harness, database: Path | str
) -> None:
    place = await town(bot)
    await bot.report(place.grid1, place.resident, "#报修 3号楼楼道灯不亮")
    cache = OverviewCache()
    tz = runtime_of(bot.app).settings.tz

    async def taken() -> bool:
        return cache._latest is not None

    keeping = asyncio.create_task(cache.keep_fresh(bot.storage.db, tz, bot.clock))
    try:
        assert await eventually(taken)
        kept = cache._latest
        assert kept is not None and sum(c.new for c in kept.today.values()) == 1
        # the first visitor gets the figures already there: nothing is taken for her
        assert await cache.snapshot(bot.storage.db, tz, bot.clock.now()) is kept
        assert cache._taking is not None and cache._taking.done()
    finally:
        keeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
    assert keeping.cancelled()


def test_the_charts_weeks_run_from_monday_and_the_last_ends_now() -> None:
    now = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # a Thursday morning in Shanghai
    periods = chart_periods(now, TZ)
    assert len(periods) == CHART_WEEKS
    assert periods[-1].end == now and periods[-1].start.astimezone(TZ).weekday() == 0
    assert all(p.end - p.start == timedelta(days=7) for p in periods[:-1])
    assert all(a.end == b.start for a, b in itertools.pairwise(periods))


async def test_the_table_reads_indexes_and_never_sorts_every_ticket(
    storage: Storage, backend: str
) -> None:
    """SQLite plans alike on an empty file and on a million tickets (it keeps no statistics):
    every count and page is an index read; a page over every grid, or every open or overdue
    ticket, comes in index order (no sort of the whole match); one grid's tickets may be sorted.
    """
    if backend != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; bench/README.md has PostgreSQL's")
    plans = await WebViews(storage.db).query_plans(datetime(2026, 11, 26, tzinfo=UTC))
    assert len(plans) == 4 * (1 + 4)
    for name, steps in plans.items():
        assert all("INDEX" in step for step in steps if step.startswith(("SCAN", "SEARCH"))), (
            name,
            steps,
        )
        if not name.startswith("page grid"):
            assert "USE TEMP B-TREE FOR ORDER BY" not in steps, (name, steps)
    assert any("tickets_status_order" in step for step in plans["page all by status"])
