"""When reminders come, and what /escalate says when nobody above the grid has an office chat."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.simulator.models import SimChat, SimUser
from tests.harness import Harness, harness


async def grid(bot: Harness) -> tuple[SimChat, SimUser, SimUser]:
    resident, officer = bot.sim.add_user("王阿姨"), bot.sim.add_user("刘网格员")
    chat = await bot.grid("北瑞小区一网格", resident)
    bot.sim.set_member(chat, officer, "administrator")
    return chat, resident, officer


def reminders(bot: Harness, chat: SimChat) -> int:
    return sum("还没有人接单" in m.get("text", "") for m in bot.sim.bot_messages(chat.id))


@pytest.mark.parametrize(
    ("report", "halfway"),
    [
        # 充电 responds within 30 min, the same as REMINDER_LEAD: halfway, not at the receipt
        ("#充电 5号楼飞线充电", timedelta(minutes=15)),
        # 隐患 30 min as well; urgent, so quiet hours don't hold it either
        ("#隐患 3号楼楼道堆满杂物", timedelta(minutes=15)),
    ],
)
async def test_reminder_never_before_halfway_through_the_window(
    bot: Harness, report: str, halfway: timedelta
) -> None:
    chat, resident, _ = await grid(bot)
    await bot.say(chat, resident, report)
    assert (await bot.tick()).reminders == 0  # seconds after the receipt
    assert (await bot.tick(halfway - timedelta(seconds=1))).reminders == 0
    assert (await bot.tick(timedelta(seconds=1))).reminders == 1
    assert reminders(bot, chat) == 1


async def test_a_long_window_is_reminded_lead_before_the_deadline(bot: Harness) -> None:
    chat, resident, _ = await grid(bot)
    await bot.say(chat, resident, "#报修 3号楼楼道灯不亮")  # 2 h to respond, lead 30 min
    assert (await bot.tick(timedelta(minutes=89, seconds=59))).reminders == 0
    assert (await bot.tick(timedelta(seconds=1))).reminders == 1


async def test_a_lead_shorter_than_half_the_window_is_kept(tmp_path: Path) -> None:
    async with harness(tmp_path, reminder_lead=timedelta(minutes=5)) as bot:
        chat, resident, _ = await grid(bot)
        await bot.say(chat, resident, "#充电 5号楼飞线充电")
        assert (await bot.tick(timedelta(minutes=24, seconds=59))).reminders == 0
        assert (await bot.tick(timedelta(seconds=1))).reminders == 1


# -- /escalate with nobody to tell ------------------------------------------------------------


async def test_escalate_without_any_office_chat_says_so_and_moves_nothing(bot: Harness) -> None:
    chat, resident, officer = await grid(bot)
    await bot.say(chat, resident, "#报修 3号楼楼道灯不亮")
    asked = await bot.say(chat, officer, "/escalate 1 物业不理")
    reply = bot.reply_text(chat, asked)
    assert "没有上报" in reply and "/supervise 通顺社区" in reply
    assert "已把工单" not in reply
    ticket = await bot.storage.tickets.get(1)
    assert ticket is not None and ticket.escalation_level == 0
    assert "escalated" not in [e.kind for e in await bot.storage.tickets.events(1)]


async def test_overdue_ticket_waits_for_an_office_then_is_escalated(bot: Harness) -> None:
    chat, resident, _ = await grid(bot)
    await bot.say(chat, resident, "#报修 3号楼楼道灯不亮")  # 3 days to resolve
    assert (await bot.tick(timedelta(days=3, minutes=1))).escalations == 0
    office = bot.group("通顺社区办公群")
    await bot.say(office, bot.admin, "/supervise 通顺社区")
    assert (await bot.tick(timedelta(minutes=1))).escalations == 1
    escalated = [m for m in bot.sim.bot_messages(office.id) if "🔺" in m.get("text", "")]
    assert len(escalated) == 1 and "督办" in escalated[0]["text"]


async def test_escalate_to_the_street_when_the_community_has_no_chat(bot: Harness) -> None:
    chat, resident, officer = await grid(bot)
    street = bot.group("交通街道办公群")
    await bot.say(street, bot.admin, "/supervise 交通街道")
    await bot.say(chat, resident, "#报修 3号楼楼道灯不亮")
    asked = await bot.say(chat, officer, "/escalate 1")
    assert "直接上报到街道" in bot.reply_text(chat, asked)
    assert sum("上报" in m.get("text", "") for m in bot.sim.bot_messages(street.id)) == 1
