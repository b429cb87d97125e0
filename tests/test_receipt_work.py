"""What a report costs: the ticket, its receipt and the receipt's record in two trips to sqlite.

Each ``await`` on the aiosqlite connection is a hand-over to its thread and back; on the intake
path those cost more CPU than the statements. The receipt is rendered from what its outbox row
brought (the ticket read with the row; files and likely duplicates found when the ticket opened),
and it must stay as right as when every receipt read the ticket again: after a restart, for a
row queued by an older release, and when the ticket changed while the receipt waited its turn.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.app import handle_update
from bot.clock import VirtualClock
from bot.context import runtime_of
from bot.ratelimit import TelegramBudget
from bot.simulator import Simulator
from storage import OutboxDraft, Storage, handling
from tests.harness import JSON, Harness, harness

DUPLICATE_LINE = "可能与工单"


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the hand-overs to aiosqlite's thread (its one way in), passing every one on."""
    count = [0]
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return count


@pytest.mark.sqlite_only
async def test_a_report_and_its_receipt_take_two_trips_to_sqlite(
    bot: Harness, trips: list[int]
) -> None:
    resident = bot.sim.add_user("王阿姨")
    chats = await bot.bound_groups(10, resident)
    reports = [
        bot.sim.send_text(chat, resident, f"#报修 {n}号楼楼道灯不亮")
        for n, chat in enumerate(chats, start=1)
    ]
    trips[0] = 0
    await bot.process()
    # one trip: the chat's binding read, and the transaction — ticket, event, receipt row, the
    # update's record (that the update was not handled before needs no read: it is above
    # every one recorded)
    assert trips[0] == len(reports)
    trips[0] = 0
    await bot.flush()
    # what is due, each receipt with its ticket (read once for all of them, and once more by
    # the harness's second round, which finds nothing), and the receipts marked sent with
    # their message ids kept on the tickets: marks that come together share a trip
    assert 3 <= trips[0] <= 2 + len(reports)
    for chat, report in zip(chats, reports, strict=True):
        assert "已登记" in bot.reply_text(chat, report)
        ticket = await bot.storage.tickets.by_message(chat.id, report["message_id"])
        assert ticket is not None and ticket.receipt_message_id is not None
    # sent by Bot._post, with what Bot.send_message takes from the application's Defaults
    for call in bot.sim.calls_to("sendMessage")[-len(reports) :]:
        assert call.params["parse_mode"] == "HTML"
        assert json.loads(call.params["link_preview_options"]) == {"is_disabled": True}


@pytest.mark.sqlite_only
async def test_the_running_sender_takes_each_receipt_from_the_transaction_that_queued_it(
    bot: Harness, trips: list[int]
) -> None:
    resident = bot.sim.add_user("王阿姨")
    chats = await bot.bound_groups(10, resident)
    sender = runtime_of(bot.app).sender
    running = asyncio.create_task(sender.run())
    try:
        await bot.sim.wait_for(lambda: bot.storage.db.outbox_adopter is sender)
        reports = [
            bot.sim.send_text(chat, resident, f"#报修 {n}号楼楼道灯不亮")
            for n, chat in enumerate(chats, start=1)
        ]
        handled = await bot.storage.db.fetch_value("SELECT COUNT(*) FROM handled_updates")
        trips[0] = 0
        await bot.process()
        pairs = list(zip(chats, reports, strict=True))
        await bot.sim.wait_for(lambda: all(bot.replies(c, r) for c, r in pairs), timeout=30)
        # per report: one trip (the chat's binding read, then the transaction: ticket, receipt
        # row, the chat claimed for the sender and its due rows read); the receipts marked sent
        # (marks that come together share a trip) — no read of what is due (at most an idle
        # look or two of the dispatcher meanwhile)
        assert len(reports) < trips[0] <= 2 * len(reports) + 2
        # each report's update recorded with its ticket (the transaction runs in a task of its
        # own): a redelivery after a crash is skipped without a trip
        after = await bot.storage.db.fetch_value("SELECT COUNT(*) FROM handled_updates")
        assert after - handled == len(reports)
        for chat, report in pairs:
            assert len(bot.replies(chat, report)) == 1
            assert "已登记" in bot.reply_text(chat, report)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert bot.storage.db.outbox_adopter is None  # a stopped sender takes nothing


async def test_a_report_cancelled_while_its_transaction_runs_still_gets_its_receipt(
    bot: Harness,
) -> None:
    """A cancelled await does not stop the engine's thread: the ticket commits (and on
    PostgreSQL its chat's claim is taken). It must be handed over or let go all the same, or
    the chat would wait for ever (a claim nobody releases)."""
    resident = bot.sim.add_user("王阿姨")
    (chat,) = await bot.bound_groups(1, resident)
    sender = runtime_of(bot.app).sender
    running = asyncio.create_task(sender.run())
    try:
        await bot.sim.wait_for(lambda: bot.storage.db.outbox_adopter is sender)
        first = bot.sim.send_text(chat, resident, "#报修 1号楼楼道灯不亮")
        (update,) = await bot.app.bot.get_updates(offset=0, timeout=0)
        handling_it = asyncio.create_task(handle_update(bot.app, update))
        # step the loop one turn at a time, to cancel right after the reservation
        while chat.id not in sender._busy:  # noqa: ASYNC110 - one loop turn, not a wait
            await asyncio.sleep(0)
        handling_it.cancel()
        await asyncio.gather(handling_it, return_exceptions=True)
        assert await bot.storage.tickets.by_message(chat.id, first["message_id"]) is not None
        await bot.sim.wait_for(lambda: bot.replies(chat, first), timeout=30)
        second = bot.sim.send_text(chat, resident, "#报修 2号楼电梯坏了")
        await bot.process()
        await bot.sim.wait_for(lambda: bot.replies(chat, second), timeout=30)
        assert len(bot.replies(chat, first)) == len(bot.replies(chat, second)) == 1
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_the_report_s_update_is_recorded_with_its_ticket(bot: Harness) -> None:
    resident = bot.sim.add_user("王阿姨")
    chat = await bot.grid("北瑞小区一网格", resident)
    await bot.say(chat, resident, "#报修 3号楼楼道灯不亮")
    assert await bot.storage.updates.seen(bot.processed[-1].update_id)


async def test_a_receipt_names_only_earlier_reports_as_likely_duplicates(bot: Harness) -> None:
    resident, neighbour = bot.sim.add_user("王阿姨"), bot.sim.add_user("李大爷")
    chat = await bot.grid("北瑞小区一网格", resident, neighbour)
    first = bot.sim.send_text(chat, resident, "#报修 北瑞小区3号楼楼道灯不亮")
    second = bot.sim.send_text(chat, neighbour, "#报修 北瑞小区3号楼灯坏了")
    await bot.drain()  # both open before either receipt goes out
    earlier = await bot.storage.tickets.by_message(chat.id, first["message_id"])
    assert earlier is not None
    assert DUPLICATE_LINE not in bot.reply_text(chat, first)  # the later one is no original
    assert f"{DUPLICATE_LINE} {earlier.id} " in bot.reply_text(chat, second)
    assert len(buttons(bot.replies(chat, first)[0])) == 3  # 接单, 办结, 💬: nothing to merge into
    assert len(buttons(bot.replies(chat, second)[0])) == 4  # and 合并 into the earlier one


async def test_receipts_left_pending_go_out_after_a_restart(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        resident = bot.sim.add_user("陈姐")
        chat = await bot.grid("宝东街坊二网格", resident)
        first = await bot.say(chat, resident, "#积水 宝东6号街坊3号楼门口积水")
        photo = bot.sim.send_media(chat, resident, caption="#积水 宝东6号街坊3号楼门口又积水了")
        await bot.process()  # the ticket opens; the process stops before its receipt is sent
        sim, pending = bot.sim, await bot.storage.outbox.items("receipt")
        earlier = await bot.storage.tickets.by_message(chat.id, first["message_id"])
        assert earlier is not None
        assert [item.status for item in pending] == ["sent", "pending"]
    async with harness(tmp_path, sim=sim) as again:  # a new process: nothing but the database
        assert await again.flush() == 1
        text = again.reply_text(chat, photo)
        assert "附件：1 个" in text and f"{DUPLICATE_LINE} {earlier.id} " in text


async def test_a_receipt_row_of_an_older_release_still_says_files_and_duplicates(
    bot: Harness,
) -> None:
    resident = bot.sim.add_user("陈姐")
    chat = await bot.grid("宝东街坊二网格", resident)
    await bot.say(chat, resident, "#积水 宝东6号街坊3号楼门口积水")
    photo = bot.sim.send_media(chat, resident, caption="#积水 宝东6号街坊3号楼门口又积水了")
    await bot.drain()
    ticket = await bot.storage.tickets.by_message(chat.id, photo["message_id"])
    assert ticket is not None
    # a release before receipts carried their files and duplicates queued only the ticket's id
    await bot.storage.outbox.add(
        OutboxDraft(chat.id, "receipt", bot.clock.now(), ticket_id=ticket.id, dedupe_key="old"),
        bot.clock.now(),
    )
    assert await bot.flush() == 1
    again = bot.replies(chat, photo)[-1]["text"]
    assert "附件：1 个" in again and f"{DUPLICATE_LINE} {ticket.id - 1} " in again


async def test_an_edit_while_the_receipt_waits_its_turn_is_in_the_receipt(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=True)
    budget = TelegramBudget(global_per_second=1, clock=clock)
    async with harness(tmp_path, sim=Simulator(clock=clock.monotonic), budget=budget) as bot:
        resident = bot.sim.add_user("王阿姨")
        first, second = await bot.bound_groups(2, resident)
        clock.advance(1.1)  # the welcomes' second of the global budget has passed
        clock.autojump = False  # from here time moves when the test says so
        reports = [
            bot.sim.send_text(chat, resident, "#报修 1号楼灯不亮") for chat in (first, second)
        ]
        await bot.process()
        flushing = asyncio.create_task(bot.flush())
        # the first group's receipt is out; the second's waits, asleep on the budget
        await bot.sim.wait_for(lambda: bool(bot.replies(first, reports[0])), timeout=30)
        await bot.sim.wait_for(lambda: clock.sleeping == 1, timeout=30)
        bot.sim.edit_text(second, reports[1]["message_id"], "#积水 5号楼2单元门口积水")
        await bot.process()
        assert not flushing.done()
        clock.advance(budget.wait_time(None))  # its second comes
        await flushing
        receipt = bot.reply_text(second, reports[1])
        assert "类别：积水" in receipt and "5号楼" in receipt


async def test_an_update_recorded_without_a_look_first_is_still_seen(tmp_path: Path) -> None:
    """The record of a handled update is skipped only above every id that can be recorded."""
    now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    storage = await Storage.open(tmp_path / "s.db")
    try:
        assert not await storage.updates.seen(5)  # the first look: nothing recorded yet
        with handling(41, now):
            await storage.notices.claim(1, "hint", now, timedelta(days=1))
        await storage.updates.mark(52, now)
        assert await storage.updates.seen(41) and await storage.updates.seen(52)
        assert not await storage.updates.seen(42) and not await storage.updates.seen(53)
    finally:
        await storage.close()
    again = await Storage.open(tmp_path / "s.db")  # a new process reads the highest once
    try:
        assert await again.updates.seen(52) and not await again.updates.seen(53)
    finally:
        await again.close()


def buttons(message: JSON) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row]
