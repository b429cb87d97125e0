"""关爱走访's rules (bot.care) on the running bot: cadence, visits, reminders, alarms, rounds.

The roster is built with the domain's own calls (tests/care_cast.py; the /care and /visit
commands are tested in tests/test_care_commands.py); the schedule runs as in production
(``bot.schedule.tick``) on the injectable clock, and every message is read from the
simulator, as Telegram would show it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import care
from bot.callbacks import CarePress, encode
from bot.categories import CategoryCatalog, CategoryError
from bot.context import runtime_of
from bot.parsing.care import parse_add, parse_visit, person_number
from storage.care import CarePerson
from storage.vocabulary import CareStatus, DueKind, DueStatus, VisitOutcome, VisitWay
from tests.care_cast import CATALOG, KEY, Town, add_person, texts_in, town, visit
from tests.harness import Harness

JSON = dict[str, Any]
DAY = timedelta(days=1)


# -- the one-line forms and the tiers (pure) ------------------------------------------------


def test_one_line_add_finds_name_tier_address_and_contact() -> None:
    line = parse_add(["曹大爷", "3号楼2单元101", "高风险"], CATALOG)
    assert (line.name, line.address, line.tier, line.contact) == (
        "曹大爷",
        "3号楼2单元101",
        "高风险",
        "",
    )
    line = parse_add(["王奶奶", "重点", "北瑞小区", "7栋", "女儿", "13812345678"], CATALOG)
    assert line.tier == "重点" and line.address == "北瑞小区 7栋"
    assert line.contact == "女儿 13812345678"
    assert parse_add(["李爷爷", "高危"], CATALOG).tier == "高风险"  # an alias
    assert parse_add(["李爷爷", "3号楼"], CATALOG).tier is None
    assert parse_add([], CATALOG).name == ""


def test_one_line_visit_reads_number_outcome_way_and_note() -> None:
    line = parse_visit(["7", "正常", "精神不错"])
    assert (line.person_id, line.outcome, line.way, line.note) == (
        7,
        VisitOutcome.NORMAL,
        None,
        "精神不错",
    )
    line = parse_visit(["关爱7", "电话", "未见到", "电话没人接"])
    assert (line.person_id, line.outcome, line.way) == (7, VisitOutcome.UNSEEN, VisitWay.CALL)
    assert line.note == "电话没人接"
    assert parse_visit(["７", "异常需跟进"]).outcome is VisitOutcome.CONCERN
    assert parse_visit(["x", "正常"]).person_id is None
    assert parse_visit([]).person_id is None
    assert person_number("#12") == 12 and person_number("十二") is None


def test_tiers_from_the_categories_file(tmp_path: Path) -> None:
    written = tmp_path / "categories.toml"
    written.write_text('[care.tiers."高风险"]\nevery = "3d"\ngrace = "12h"\n', encoding="utf-8")
    loaded = CategoryCatalog.load(written).tier("高危")
    assert loaded is not None and loaded.every == 3 * DAY and loaded.grace == DAY / 2
    default = {t.name: t for t in CATALOG.tiers}
    assert default["高风险"].every == 7 * DAY and default["高风险"].grace == 2 * DAY
    assert default["重点"].every == 30 * DAY and default["一般"].every == 90 * DAY
    catalog = CategoryCatalog.from_mapping(
        {"care": {"tiers": {"高风险": {"every": "3d", "grace": "1d"}, "特困": {"every": "14d"}}}}
    )
    tiers = {t.name: t for t in catalog.tiers}
    assert tiers["高风险"].every == 3 * DAY and tiers["特困"].grace == timedelta(0)
    assert "一般" in tiers  # the defaults stay unless replaced
    only = CategoryCatalog.from_mapping(
        {"care": {"replace_defaults": True, "tiers": {"每周": {"every": "7d", "grace": "1d"}}}}
    )
    assert [t.name for t in only.tiers] == ["每周"]
    bad: dict[str, Any]
    for bad in (
        {"care": {"tiers": {"高风险": {"every": "7d", "often": 1}}}},
        {"care": {"tiers": {"高风险": {"grace": "1d"}}}},
        {"care": {"tiers": {"高风险": {"every": "0s"}}}},
        {"care": {"tiers": {"甲": {"every": "1d", "aliases": ["乙"]}, "乙": {"every": "2d"}}}},
        {"care": {"colour": "red"}},
        {"cares": {}},
    ):
        with pytest.raises(CategoryError):
            CategoryCatalog.from_mapping(bad)


def test_care_press_data_round_trips_and_refuses_nonsense() -> None:
    from bot.callbacks import Invalid, parse

    for press in (CarePress("visit", 7), CarePress("tier", 0), CarePress("cancel")):
        assert parse(encode(press)) == press
    for data in ("v1|cr|visit|0", "v1|cr|fly|1", "v1|cr|tier|01", "v1|cr|tier|-1"):
        assert isinstance(parse(data), Invalid)


# -- the running bot ------------------------------------------------------------------------


FIRST_DAY = datetime(2026, 11, 26, tzinfo=ZoneInfo("Asia/Shanghai"))  # the harness clock's day


def local(bot: Harness, days: float, hour: float) -> datetime:
    """``days`` after the test's first day, at ``hour`` o'clock Beijing time (TIMEZONE)."""
    assert runtime_of(bot.app).settings.tz == FIRST_DAY.tzinfo
    return FIRST_DAY + timedelta(days=days, hours=hour)


async def tick_at(bot: Harness, moment: datetime) -> None:
    bot.clock.set(moment)
    await bot.tick()


async def test_a_month_of_weekly_visits_reminders_misses_and_a_heat_wave(bot: Harness) -> None:
    place = await town(bot)
    start = local(bot, 0, 9)
    bot.clock.set(start)
    person = await add_person(bot, place)
    private = bot.sim.private_chat(place.officer)
    [due] = await bot.storage.care.dues_of(person.id)
    assert due.due_at == start + 7 * DAY and due.window_end == start + 9 * DAY

    # day 6: nothing due yet; day 7 at 06:00 is quiet hours; 07:30 the visitor is reminded
    await tick_at(bot, local(bot, 6, 12))
    await tick_at(bot, local(bot, 7, 6))
    assert not [t for t in texts_in(bot, private) if "关爱走访提醒" in t]
    await tick_at(bot, local(bot, 7, 7.5))
    reminders = [m for m in bot.sim.bot_messages(private) if "关爱走访提醒" in m.get("text", "")]
    assert len(reminders) == 1 and "曹大爷" in reminders[0]["text"]
    markup = reminders[0]["reply_markup"]["inline_keyboard"]
    assert markup[0][0]["callback_data"] == encode(CarePress("visit", person.id))
    await tick_at(bot, local(bot, 7, 12))  # a second tick reminds nobody twice
    assert len([t for t in texts_in(bot, private) if "关爱走访提醒" in t]) == 1

    # the first week's visit, on the due day: on time; the next is owed a week later
    bot.clock.set(local(bot, 7, 15))
    first = await visit(bot, place, person, VisitOutcome.NORMAL, "精神不错")
    assert first.created and len(first.settled) == 1 and first.ticket is None
    [nxt] = await bot.storage.care.dues_of(person.id)
    assert nxt.due_at == local(bot, 14, 15)

    # week two: nobody visits; past the window (day 16 15:00) the community's office hears
    await tick_at(bot, local(bot, 16, 14))
    assert not [t for t in texts_in(bot, place.office) if "逾期未访" in t]
    await tick_at(bot, local(bot, 16, 15) + timedelta(minutes=1))
    alarms = [t for t in texts_in(bot, place.office) if "逾期未访" in t]
    assert len(alarms) == 1 and "曹大爷" in alarms[0] and "13812345678" not in alarms[0]
    assert not [t for t in texts_in(bot, place.street) if "关爱" in t]
    # one period (7 days) later the street's office hears; then nothing more
    await tick_at(bot, local(bot, 23, 15))
    assert not [t for t in texts_in(bot, place.street) if "关爱" in t]
    await tick_at(bot, local(bot, 23, 15) + timedelta(minutes=1))
    assert len([t for t in texts_in(bot, place.street) if "社区督办后仍未走访" in t]) == 1
    await tick_at(bot, local(bot, 30, 16))
    assert len([t for t in texts_in(bot, place.street) if "关爱" in t]) == 1

    # a late visit settles the missed due (late); a heat-wave round is owed at once
    bot.clock.set(local(bot, 24, 10))
    await visit(bot, place, person, VisitOutcome.NORMAL)
    bot.clock.set(local(bot, 25, 10))
    runtime = runtime_of(bot.app)
    heat, covered = await care.start_round(
        runtime.care_desk,
        name="高温",
        tier=CATALOG.tiers[0],
        grid_ids=None,
        deadline=DAY,
        actor=care.Actor(bot.admin.id, bot.admin.first_name),
        now=bot.clock.now(),
    )
    assert covered == [person.id] and heat.deadline == local(bot, 26, 10)
    await tick_at(bot, local(bot, 25, 10) + timedelta(minutes=1))
    assert len([t for t in texts_in(bot, private) if "专项走访" in t]) == 1
    bot.clock.set(local(bot, 25, 16))
    settled = await visit(bot, place, person, VisitOutcome.NORMAL)
    assert len(settled.settled) == 1  # the round's; the regular one (due in 6 days) is moot
    [regular] = await bot.storage.care.dues_of(person.id)
    assert regular.due_at == local(bot, 32, 16)  # a week after this visit

    # the month's figures: the visits owed and how many were on time
    counts = await care.on_time(bot.storage, local(bot, 0, 0), local(bot, 31, 0))
    # week one on time, week two missed (visited late), the heat wave on time; the visit
    # made early for the round settles no regular due (neither on time nor missed)
    assert (counts.on_time, counts.fell_due) == (2, 3)
    dues = await bot.storage.care.dues_of(person.id, open_only=False)
    assert [d.kind for d in dues].count(DueKind.ROUND) == 1
    # nothing of the roster ever reached the residents' group
    assert not [t for t in texts_in(bot, place.group) if "曹大爷" in t or "101" in t]


async def test_not_seen_twice_tells_the_office_at_once(bot: Harness) -> None:
    place = await town(bot)
    person = await add_person(bot, place)
    once = await visit(bot, place, person, VisitOutcome.UNSEEN, "敲门没人应")
    assert not once.escalated and once.person.missed_in_row == 1 and once.settled == ()
    assert not [t for t in texts_in(bot, place.office) if "未见到" in t]
    bot.clock.advance(timedelta(hours=3))
    twice = await visit(bot, place, person, VisitOutcome.UNSEEN)
    assert twice.escalated
    alarms = [t for t in texts_in(bot, place.office) if "连续 2 次未见到" in t]
    assert len(alarms) == 1 and "曹大爷" in alarms[0]
    # the due stays open (nobody was seen), at level 1: the tick does not tell the community again
    [due] = await bot.storage.care.dues_of(person.id)
    assert due.escalation_level == 1
    await bot.tick(9 * DAY)
    assert len([t for t in texts_in(bot, place.office) if "关爱" in t]) == 1
    # a visit that finds the person ends the run
    reached = await visit(bot, place, person, VisitOutcome.REFUSED, "不愿开门但隔门说话了")
    assert reached.person.missed_in_row == 0 and len(reached.settled) == 1


async def test_a_concern_opens_an_urgent_ticket_whose_receipt_names_nobody(bot: Harness) -> None:
    place = await town(bot)
    person = await add_person(bot, place)
    recorded = await visit(bot, place, person, VisitOutcome.CONCERN, "曹大爷说胸口疼")
    ticket = recorded.ticket
    assert ticket is not None and recorded.visit.ticket_id == ticket.id
    assert ticket.category == "help" and ticket.grid_id == place.grid.id
    assert ticket.chat_id == place.group.id and ticket.message_id == -recorded.visit.id
    assert ticket.reporter_id is None
    receipts = [
        t
        for t in texts_in(bot, place.group)
        if f"工单 <b>{ticket.id}</b>" in t or str(ticket.id) in t
    ]
    assert receipts, texts_in(bot, place.group)
    group_text = "\n".join(texts_in(bot, place.group))
    for secret in ("曹大爷", "3号楼2单元101", "胸口疼", "13812345678"):
        assert secret not in group_text
    # officers work it like any ticket; with nobody to ask, it closes without a 回访
    before = len(texts_in(bot, place.group))
    await bot.say(place.group, place.officer, f"/done {ticket.id} 已送医")
    # no resident to tell (nor to ask to rate it): the officer's answer, the receipt shows it
    assert texts_in(bot, place.group)[before:] == [f"✅ 工单 {ticket.id} 已办结。"]
    resolved = await bot.fresh(ticket)
    assert resolved.status == "resolved"
    await bot.tick(2 * DAY)
    closed = await bot.fresh(ticket)
    assert closed.status == "closed"


async def test_pause_resume_end_and_what_falls_due(bot: Harness) -> None:
    place = await town(bot)
    person = await add_person(bot, place, tier=KEY)
    runtime = runtime_of(bot.app)
    desk, who = runtime.care_desk, care.Actor(place.officer.id, "刘网格员")
    paused = await care.pause(desk, person, "住院", who, bot.clock.now())
    assert paused is not None and paused.status is CareStatus.PAUSED
    assert await bot.storage.care.dues_of(person.id) == []
    assert await care.pause(desk, paused, "again", who, bot.clock.now()) is None
    assert await visit_refused(bot, place, paused)
    await bot.tick(40 * DAY)  # nothing is owed while paused: no reminder, no alarm
    assert not [t for t in texts_in(bot, place.office) if "关爱" in t]
    resumed = await care.resume(desk, paused, who, bot.clock.now())
    assert resumed is not None and resumed.status is CareStatus.ACTIVE
    [due] = await bot.storage.care.dues_of(person.id)
    assert due.due_at == bot.clock.now()
    changed = await care.edit(
        desk, resumed, actor=who, now=bot.clock.now(), tier=CATALOG.tier("高风险")
    )
    assert changed is not None and changed.tier == "高风险"
    ended = await care.end(desk, changed, "搬去女儿家", who, bot.clock.now())
    assert ended is not None and ended.status is CareStatus.ENDED
    assert await care.resume(desk, ended, who, bot.clock.now()) is None
    all_dues = await bot.storage.care.dues_of(person.id, open_only=False)
    assert {d.status for d in all_dues} == {DueStatus.CANCELLED}
    kinds = [e.kind for e in await bot.storage.care.events_of(person.id)]
    assert kinds[0] == "ended" and "added" in kinds and "paused" in kinds


async def visit_refused(bot: Harness, place: Town, person: CarePerson) -> bool:
    runtime = runtime_of(bot.app)
    recorded = await care.record_visit(
        runtime.care_desk,
        person,
        outcome=VisitOutcome.NORMAL,
        way=VisitWay.HOME,
        note="",
        actor=care.Actor(place.officer.id, "刘网格员"),
        now=bot.clock.now(),
        grid_chat_id=place.group.id,
    )
    return recorded is None


async def test_a_visitor_who_left_gets_no_names_the_office_names_another(bot: Harness) -> None:
    place = await town(bot)
    person = await add_person(bot, place)
    bot.sim.set_member(place.group, place.officer, "member")  # no longer an officer
    runtime_of(bot.app).roles.forget(place.group.id)
    await bot.tick(7 * DAY + timedelta(hours=1))
    private = bot.sim.private_chat(place.officer)
    assert not [t for t in texts_in(bot, private) if "曹大爷" in t]
    notes = [t for t in texts_in(bot, place.office) if "走访人" in t and "不在该网格岗位" in t]
    assert len(notes) == 1 and f"关爱 {person.id}" in notes[0]
    # the residents' group hears nothing of the roster, not even a number
    assert not [t for t in texts_in(bot, place.group) if "关爱" in t]


async def test_missed_visits_wait_for_an_office_and_a_street_only_office_hears_once(
    bot: Harness,
) -> None:
    place = await town(bot)
    person = await add_person(bot, place)
    await bot.say(place.office, bot.admin, "/unbind")
    await bot.tick(10 * DAY)  # missed, community office gone: the street's hears it, once
    street = [t for t in texts_in(bot, place.street) if f"关爱 {person.id}" in t]
    assert len(street) == 1 and "逾期未访" in street[0]
    [due] = await bot.storage.care.dues_of(person.id)
    assert due.escalation_level == 2
    await bot.tick(10 * DAY)
    assert len([t for t in texts_in(bot, place.street) if "关爱" in t]) == 1


async def test_an_alarm_masks_numbers_written_anywhere(bot: Harness) -> None:
    place = await town(bot)
    runtime = runtime_of(bot.app)
    person = await care.add(
        runtime.care_desk,
        grid_id=place.grid.id,
        name="曹大爷",
        address="3号楼101 儿子电话13912345678",
        tier=CATALOG.tiers[0],
        visitor=care.Actor(place.officer.id, place.officer.first_name),
        actor=care.Actor(place.officer.id, place.officer.first_name),
        now=bot.clock.now(),
    )
    await bot.tick(10 * DAY)
    alarms = [t for t in texts_in(bot, place.office) if f"关爱 {person.id}" in t]
    assert alarms and "13912345678" not in alarms[0] and "139****5678" in alarms[0]


async def test_pausing_an_overdue_person_keeps_the_miss_and_rounds_do_not_stack(
    bot: Harness,
) -> None:
    place = await town(bot)
    person = await add_person(bot, place)
    runtime = runtime_of(bot.app)
    desk, who = runtime.care_desk, care.Actor(place.officer.id, "刘网格员")
    bot.clock.advance(10 * DAY)  # past the first window, unvisited
    paused = await care.pause(desk, person, "住院", who, bot.clock.now())
    assert paused is not None
    counts = await care.on_time(bot.storage, bot.clock.now() - 30 * DAY, bot.clock.now())
    assert (counts.on_time, counts.fell_due) == (0, 1)  # still a miss
    resumed = await care.resume(desk, paused, who, bot.clock.now())
    assert resumed is not None
    for _ in range(2):  # a double tap
        await care.start_round(
            desk,
            name="高温",
            tier=CATALOG.tiers[0],
            grid_ids=None,
            deadline=DAY,
            actor=who,
            now=bot.clock.now(),
        )
    dues = await bot.storage.care.dues_of(person.id)
    assert [d.kind for d in dues].count(DueKind.ROUND) == 1


async def test_a_replayed_visit_message_records_once(bot: Harness) -> None:
    place = await town(bot)
    person = await add_person(bot, place)
    runtime = runtime_of(bot.app)
    kwargs: dict[str, Any] = {
        "outcome": VisitOutcome.CONCERN,
        "way": VisitWay.CALL,
        "note": "",
        "actor": care.Actor(place.officer.id, "刘网格员"),
        "now": bot.clock.now(),
        "grid_chat_id": place.group.id,
        "source": (place.officer.id, 42),
    }
    first = await care.record_visit(runtime.care_desk, person, **kwargs)
    again = await care.record_visit(runtime.care_desk, person, **kwargs)
    assert first is not None and again is not None
    assert first.created and not again.created and again.visit.id == first.visit.id
    assert len(await bot.storage.care.visits_of(person.id)) == 1
    tickets = await bot.storage.tickets.by_message(place.group.id, -first.visit.id)
    assert tickets is not None and tickets.id == first.visit.ticket_id


async def test_a_concern_in_a_grid_without_a_group_goes_to_the_office_at_once(
    bot: Harness,
) -> None:
    place = await town(bot)
    person = await add_person(bot, place)
    await bot.say(place.group, bot.admin, "/unbind")
    private = bot.sim.private_chat(bot.admin)
    asked = await bot.say(private, bot.admin, f"/visit {person.id} 异常需跟进 说胸口疼")
    answer = bot.reply_text(private, asked)
    assert "未绑定群" in answer and "群内回执" not in answer
    [recorded] = await bot.storage.care.visits_of(person.id)
    ticket = await bot.storage.tickets.get(recorded.ticket_id or 0)
    assert ticket is not None and ticket.chat_id == bot.admin.id  # kept where it was recorded
    told = [t for t in texts_in(bot, place.office) if "异常需跟进" in t]
    assert len(told) == 1 and "曹大爷" in told[0] and "胸口疼" not in told[0]
    assert not [t for t in texts_in(bot, place.group) if "关爱" in t]
