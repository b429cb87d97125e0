"""Schedules with a moved clock: reminders, escalation, quiet hours, 回访 — through the Bot API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.callbacks import Rating, RatingPress, encode
from bot.simulator.models import SimChat, SimUser
from storage import Ticket
from tests.harness import Harness, harness

JSON = dict[str, Any]
# The harness clock starts at 2026-11-26 01:00 UTC = 09:00 in Asia/Shanghai (quiet 22:00-07:00).


async def setup(bot: Harness) -> tuple[SimChat, SimChat, SimChat, SimUser, SimUser]:
    resident, officer = bot.sim.add_user("王阿姨"), bot.sim.add_user("刘网格员")
    grid = await bot.grid("北瑞小区一网格", resident)
    bot.sim.set_member(grid, officer, "administrator")
    community = bot.group("通顺社区督办群")
    await bot.say(community, bot.admin, "/supervise 通顺社区")
    street = bot.group("交通街道督办群")
    await bot.say(street, bot.admin, "/supervise 交通街道")
    return grid, community, street, resident, officer


def texts_in(bot: Harness, chat: SimChat, needle: str) -> list[str]:
    return [m.get("text", "") for m in bot.sim.bot_messages(chat.id) if needle in m.get("text", "")]


async def test_response_reminder_before_the_deadline_once(bot: Harness) -> None:
    grid, *_, resident, officer = await setup(bot)
    _, ticket = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")  # respond within 2h
    assert (await bot.tick(timedelta(minutes=80))).reminders == 0  # 30m lead not reached
    report1 = await bot.tick(timedelta(minutes=11))  # 1h31m: inside the lead
    assert report1.reminders == 1
    reminders = texts_in(bot, grid, "还没有人接单")
    assert len(reminders) == 1 and "/take 1" in reminders[0]
    sent = next(m for m in bot.sim.bot_messages(grid.id) if "还没有人接单" in m.get("text", ""))
    mentioned = {
        e.get("user", {}).get("id") for e in sent.get("entities", []) if e["type"] == "text_mention"
    }
    links = [e.get("url", "") for e in sent.get("entities", []) if e["type"] == "text_link"]
    assert officer.id in mentioned or any(str(officer.id) in u for u in links)
    assert (await bot.tick(timedelta(hours=1))).reminders == 0  # once per deadline
    assert len(texts_in(bot, grid, "接单")) >= 1 and len(texts_in(bot, grid, "还没有人接单")) == 1
    kinds = [e.kind for e in await bot.storage.tickets.events(ticket.id)]
    assert kinds.count("reminded") == 1


async def test_reminder_after_the_deadline_when_the_lead_was_missed(bot: Harness) -> None:
    grid, *_, resident, _ = await setup(bot)
    await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
    await bot.tick(timedelta(hours=3))
    assert len(texts_in(bot, grid, "已超过响应时限")) == 1


async def test_no_reminder_when_an_officer_acted(bot: Harness) -> None:
    grid, *_, resident, officer = await setup(bot)
    _, ticket = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
    await bot.say(grid, officer, f"/take {ticket.id}")
    assert (await bot.tick(timedelta(hours=3))).reminders == 0


async def test_escalation_to_community_then_street(bot: Harness) -> None:
    grid, community, street, resident, officer = await setup(bot)
    _, ticket = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮 电话13812345678")
    await bot.say(grid, officer, f"/take {ticket.id}")
    assert (await bot.tick(timedelta(days=2, hours=23))).escalations == 0
    assert (await bot.tick(timedelta(hours=2))).escalations == 1  # 3d passed: community
    escalated = texts_in(bot, community, "🔺 督办")
    assert len(escalated) == 1
    assert "第一网格" in escalated[0] and "刘网格员" in escalated[0] and "工单 1" in escalated[0]
    assert "13812345678" not in escalated[0]
    assert texts_in(bot, street, "🔺") == []
    assert (await bot.tick(timedelta(days=1))).escalations == 0
    assert (await bot.tick(timedelta(days=2))).escalations == 1  # 3d more: the street
    assert len(texts_in(bot, street, "上报街道")) == 1
    assert (await bot.tick(timedelta(days=5))).escalations == 0
    assert len(texts_in(bot, community, "🔺 督办")) == 1


async def test_manual_escalation(bot: Harness) -> None:
    grid, community, street, resident, officer = await setup(bot)
    _, ticket = await bot.report(grid, resident, "#求助 独居老人家里停电了")
    first = await bot.say(grid, officer, f"/escalate {ticket.id} 需要供电所协调")
    assert "上报到社区" in bot.reply_text(grid, first)
    assert "需要供电所协调" in texts_in(bot, community, "手动上报")[0]
    await bot.say(grid, officer, f"/escalate {ticket.id}")
    assert len(texts_in(bot, street, "手动上报")) == 1
    top = await bot.say(grid, officer, f"/escalate {ticket.id}")
    assert "已经上报到街道" in bot.reply_text(grid, top)
    refused = await bot.say(grid, resident, f"/escalate {ticket.id}")
    assert "只有本网格的网格员" in bot.reply_text(grid, refused)


async def test_quiet_hours_hold_non_urgent_but_not_urgent(bot: Harness) -> None:
    grid, community, _, resident, _ = await setup(bot)
    bot.clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))  # 21:00 local
    _, repair = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
    _, charging = await bot.report(grid, resident, "#充电 5号楼飞线充电")
    await bot.tick(timedelta(hours=2))  # 23:00 local: quiet; both response deadlines passed
    assert len(texts_in(bot, grid, f"工单 {charging.id}（充电）")) == 1
    assert texts_in(bot, grid, f"工单 {repair.id}（报修）") == []
    await bot.tick(timedelta(hours=8, minutes=1))  # 07:01: quiet hours over
    assert len(texts_in(bot, grid, f"工单 {repair.id}（报修）")) == 1
    assert len(texts_in(bot, grid, f"工单 {charging.id}（充电）")) == 1
    await bot.tick(timedelta(days=1))  # charging: resolution 1d passed, escalated
    assert len(texts_in(bot, community, "🔺 督办")) >= 1


async def resolve(bot: Harness, grid: SimChat, officer: SimUser, ticket: Ticket) -> None:
    await bot.say(grid, officer, f"/done {ticket.id} 已修好")


def followup_question(bot: Harness, grid: SimChat, ticket: Ticket) -> JSON:
    asks = [
        m
        for m in bot.sim.bot_messages(grid.id)
        if "满意吗" in m.get("text", "") and f"工单 {ticket.id}" in m.get("text", "")
    ]
    assert len(asks) == 1
    return asks[0]


@pytest.mark.parametrize(
    ("button", "status", "satisfaction"), [("s", "closed", "satisfied"), ("b", "closed", "basic")]
)
async def test_followup_satisfied_closes(
    bot: Harness, button: Rating, status: str, satisfaction: str
) -> None:
    grid, _, _, resident, officer = await setup(bot)
    message, ticket = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
    await resolve(bot, grid, officer, ticket)
    assert (await bot.tick(timedelta(minutes=59))).followups == 0
    assert (await bot.tick(timedelta(minutes=2))).followups == 1
    ask = followup_question(bot, grid, ticket)
    assert ask["reply_to_message"]["message_id"] == message["message_id"]
    bot.sim.press_button(grid, ask["message_id"], resident, encode(RatingPress(ticket.id, button)))
    await bot.drain()
    after = await bot.storage.tickets.get(ticket.id)
    assert after is not None
    assert (after.status, after.satisfaction, after.rated_at) == (
        status,
        satisfaction,
        bot.clock.now(),
    )
    assert "感谢您的评价" in bot.sim.messages(grid.id)[ask["message_id"] - 1].get(
        "text", ""
    ) or any("感谢您的评价" in m.get("text", "") for m in bot.sim.bot_messages(grid.id))


async def test_followup_only_reporters_may_answer(bot: Harness) -> None:
    grid, _, _, resident, officer = await setup(bot)
    neighbour = bot.sim.add_user("李大爷")
    _, ticket = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
    await resolve(bot, grid, officer, ticket)
    await bot.tick(timedelta(hours=2))
    ask = followup_question(bot, grid, ticket)
    for stranger in (neighbour, officer):
        query = bot.sim.press_button(
            grid, ask["message_id"], stranger, encode(RatingPress(ticket.id, "s"))
        )
        await bot.drain()
        assert "只有反映这个问题的居民" in bot.sim.callback_answers[query].get("text", "")
    after = await bot.storage.tickets.get(ticket.id)
    assert after is not None and after.status == "resolved"


async def test_followup_unsatisfied_reopens_tells_officers_and_records_why(bot: Harness) -> None:
    grid, _, _, resident, officer = await setup(bot)
    _, ticket = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
    await resolve(bot, grid, officer, ticket)
    await bot.tick(timedelta(hours=2))
    ask = followup_question(bot, grid, ticket)
    bot.sim.press_button(grid, ask["message_id"], resident, encode(RatingPress(ticket.id, "u")))
    await bot.drain()
    after = await bot.storage.tickets.get(ticket.id)
    assert after is not None
    assert (after.status, after.reopen_count, after.satisfaction) == ("accepted", 1, "unsatisfied")
    assert len(texts_in(bot, grid, "不满意")) >= 1
    invite = [m for m in bot.sim.bot_messages(grid.id) if "回复这条消息" in m.get("text", "")]
    assert len(invite) == 1
    why = await bot.say(grid, resident, "灯还是一闪一闪的", reply_to=invite[0]["message_id"])
    assert "已记录您的意见" in bot.reply_text(grid, why)
    events = await bot.storage.tickets.events(ticket.id)
    assert [e.note for e in events if e.kind == "feedback"] == ["灯还是一闪一闪的"]
    # done again: a new 回访 goes out
    await resolve(bot, grid, officer, after)
    await bot.tick(timedelta(hours=2))
    assert len([m for m in bot.sim.bot_messages(grid.id) if "满意吗" in m.get("text", "")]) == 2


async def test_followup_reminder_then_closed_unrated(bot: Harness) -> None:
    grid, _, _, resident, officer = await setup(bot)
    _, ticket = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
    await resolve(bot, grid, officer, ticket)
    await bot.tick(timedelta(hours=1, minutes=1))
    followup_question(bot, grid, ticket)
    assert (await bot.tick(timedelta(hours=23))).followup_reminders == 0
    assert (await bot.tick(timedelta(hours=1))).followup_reminders == 1
    assert (await bot.tick(timedelta(hours=24))).followup_reminders == 0
    assert len(texts_in(bot, grid, "还请您点上面的按钮评价")) == 1
    assert (await bot.tick(timedelta(hours=23, minutes=58))).closed_unrated == 0
    assert (await bot.tick(timedelta(minutes=2))).closed_unrated == 1
    after = await bot.storage.tickets.get(ticket.id)
    assert after is not None
    assert (after.status, after.satisfaction, after.rated_at) == ("closed", "unrated", None)


async def test_restart_safe_the_database_decides(tmp_path: Path) -> None:
    """Two processes' worth of ticks over one database never double a reminder."""
    async with harness(tmp_path) as bot:
        grid, *_, resident, _ = await setup(bot)
        await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
        bot.clock.advance(timedelta(hours=3))
        start = bot.clock.now()
        sim = bot.sim
    async with harness(tmp_path, sim=sim) as again:
        again.clock.set(start)
        first, second = await again.tick(), await again.tick()
        assert first.reminders + second.reminders == 1
        assert len(texts_in(again, grid, "已超过响应时限")) == 1


async def test_escalate_refuses_a_ticket_that_is_no_longer_open(bot: Harness) -> None:
    grid, community, _, resident, officer = await setup(bot)
    _, ticket = await bot.report(grid, resident, "#报修 3号楼楼道灯不亮")
    await bot.say(grid, officer, f"/reject {ticket.id} 不属于本网格")
    refused = await bot.say(grid, officer, f"/escalate {ticket.id}")
    assert "不能上报" in bot.reply_text(grid, refused)
    assert texts_in(bot, community, "🔺") == []
