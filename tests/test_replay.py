"""Exactly once for people: an update Telegram hands out again is not carried out again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.simulator.models import SimChat, SimUser
from storage import Storage, handling
from tests.harness import Harness, harness


async def grid_with_ticket(bot: Harness) -> tuple[SimChat, SimUser, SimUser, int]:
    resident, officer = bot.sim.add_user("王阿姨"), bot.sim.add_user("刘网格员")
    chat = await bot.grid("北瑞小区一网格", resident)
    bot.sim.set_member(chat, officer, "administrator")
    message = await bot.say(chat, resident, "#报修 3号楼楼道灯不亮")
    ticket = await bot.storage.tickets.by_message(chat.id, message["message_id"])
    assert ticket is not None
    return chat, resident, officer, ticket.id


def posts(bot: Harness, chat: SimChat, needle: str) -> int:
    return sum(needle in m.get("text", "") for m in bot.sim.bot_messages(chat.id))


async def test_replayed_progress_posts_once(bot: Harness) -> None:
    chat, _, officer, ticket_id = await grid_with_ticket(bot)
    await bot.say(chat, officer, f"/progress {ticket_id} 已联系电工明早来修")
    assert posts(bot, chat, "已联系电工明早来修") == 1
    events = len(await bot.storage.tickets.events(ticket_id))
    bot.sim.redeliver(bot.processed[-1].update_id)
    assert await bot.drain() == 1  # Telegram did hand it out again
    assert posts(bot, chat, "已联系电工明早来修") == 1
    assert len(await bot.storage.tickets.events(ticket_id)) == events


async def test_replayed_done_after_a_restart_is_answered_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        chat, _, officer, ticket_id = await grid_with_ticket(bot)
        done = await bot.say(chat, officer, f"/done {ticket_id} 换了灯泡")
        assert posts(bot, chat, "换了灯泡") == 1
        replayed = bot.processed[-1].update_id
        sim, start = bot.sim, bot.clock.now()
        sent_before = len(sim.sent)
    async with harness(tmp_path, sim=sim) as again:
        again.clock.set(start + timedelta(seconds=5))
        sim.redeliver(replayed)
        assert await again.drain() == 1
        assert posts(again, chat, "换了灯泡") == 1
        assert again.replies(chat, done) == []
        assert len(sim.sent) == sent_before
        ticket = await again.storage.tickets.get(ticket_id)
        assert ticket is not None and ticket.status == "resolved"


async def test_replayed_read_only_command_answers_once(bot: Harness) -> None:
    chat, _, officer, _ = await grid_with_ticket(bot)
    listed = await bot.say(chat, officer, "/list")
    assert len(bot.replies(chat, listed)) == 1
    bot.sim.redeliver(bot.processed[-1].update_id)
    await bot.drain()
    assert len(bot.replies(chat, listed)) == 1


async def test_replayed_button_press_changes_nothing(bot: Harness) -> None:
    chat, _, officer, ticket_id = await grid_with_ticket(bot)
    ticket = await bot.storage.tickets.get(ticket_id)
    assert ticket is not None and ticket.receipt_message_id is not None
    receipt = next(
        m for m in bot.sim.bot_messages(chat.id) if m["message_id"] == ticket.receipt_message_id
    )
    data = receipt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]  # 接单
    bot.sim.press_button(chat, ticket.receipt_message_id, officer, data)
    await bot.drain()
    taken = await bot.storage.tickets.events(ticket_id)
    assert [e.kind for e in taken].count("take") == 1
    bot.sim.redeliver(bot.processed[-1].update_id)
    await bot.drain()
    assert await bot.storage.tickets.events(ticket_id) == taken


async def test_handled_records_are_forgotten_after_two_days(bot: Harness) -> None:
    chat, _, officer, _ = await grid_with_ticket(bot)
    await bot.say(chat, officer, "/list")
    last = bot.processed[-1].update_id
    assert await bot.storage.updates.seen(last)
    await bot.tick(timedelta(hours=47))
    assert await bot.storage.updates.seen(last)
    await bot.tick(timedelta(hours=2))
    assert not await bot.storage.updates.seen(last)


# -- the record commits with the change, in the handling task only -----------------------------

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


async def test_record_commits_with_the_first_change(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "s.db")
    try:
        with handling(41, NOW) as scope:
            assert not scope.recorded
            await storage.notices.claim(1, "hint", NOW, timedelta(days=1))
            assert scope.recorded
        assert await storage.updates.seen(41)
        assert not await storage.updates.seen(42)
    finally:
        await storage.close()


async def test_a_rolled_back_change_records_nothing(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "s.db")
    try:
        with handling(7, NOW) as scope:
            try:
                async with storage.db.transaction() as conn:
                    await conn.execute("DELETE FROM chat_notices")
                    raise LookupError("the handler failed half-way")
            except LookupError:
                pass
            assert not scope.recorded
        assert not await storage.updates.seen(7)
    finally:
        await storage.close()


async def test_another_task_never_records_the_update(tmp_path: Path) -> None:
    """The outbox sender's tasks inherit the context; their writes must not mark it early."""
    storage = await Storage.open(tmp_path / "s.db")
    try:
        with handling(9, NOW) as scope:
            await asyncio.create_task(storage.notices.claim(2, "hint", NOW, timedelta(days=1)))
            assert not scope.recorded
        assert not await storage.updates.seen(9)
    finally:
        await storage.close()
