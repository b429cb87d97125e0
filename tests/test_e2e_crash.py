"""kill -9 the bot three times during an ingest of 1,500 tagged messages; restart each time.

Afterwards every message is exactly one ticket, and every ticket has its receipt (its own, or a
line in a combined one). Telegram's Bot API has no idempotent send, so a kill between Telegram
accepting a receipt and the outbox marking it sent repeats that receipt: the test allows at
most one repeat per kill and reports how many it saw.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.simulator import Simulator
from bot.simulator.models import SimChat
from storage import Storage
from tests.e2e import running

pytestmark = pytest.mark.e2e
GROUPS, PER_GROUP, KILLS = 50, 30, 3
_TICKET = re.compile(r"工单 (\d+)")
SETTINGS = {"LOG_LEVEL": "WARNING", "DIGEST_TIME": "23:59"}


async def bind_all(tmp_path: Path, groups: list[SimChat]) -> None:
    storage = await Storage.open(tmp_path / "crash.db")
    try:
        for n, chat in enumerate(groups):
            await storage.grids.bind_grid(
                chat_id=chat.id,
                title=chat.title or "",
                grid=f"第{n}网格",
                community="通顺社区",
                street=None,
                by=None,
                now=datetime.now(UTC),
            )
    finally:
        await storage.close()


def receipted(
    sim: Simulator, groups: list[SimChat], ids: dict[tuple[int, int], int]
) -> dict[int, int]:
    """How many receipts each ticket got: its own replies plus lines of combined receipts."""
    counts: dict[int, int] = {}
    for chat in groups:
        for message in sim.bot_messages(chat.id):
            text = message.get("text", "")
            if "条报事" in text:
                for number in _TICKET.findall(text):
                    counts[int(number)] = counts.get(int(number), 0) + 1
            elif "已登记" in text and "reply_to_message" in message:
                ticket = ids.get((chat.id, message["reply_to_message"]["message_id"]))
                if ticket is not None:
                    counts[ticket] = counts.get(ticket, 0) + 1
    return counts


async def polled_again(sim: Simulator) -> None:
    """Wait until the bot asks for updates once more: it has fetched what was sent so far."""
    polls = len(sim.calls_to("getUpdates"))
    await sim.wait_for(lambda: len(sim.calls_to("getUpdates")) > polls, timeout=60)


async def ticket_ids(tmp_path: Path) -> dict[tuple[int, int], int]:
    storage = await Storage.open(tmp_path / "crash.db")
    try:
        rows = await storage.db.fetch_all("SELECT chat_id, message_id, id FROM tickets")
        return {(r[0], r[1]): r[2] for r in rows}
    finally:
        await storage.close()


async def test_kill_9_during_ingest(tmp_path: Path) -> None:
    sim = Simulator()
    admin = sim.add_user("张书记")
    residents = [sim.add_user(f"居民{n}") for n in range(10)]
    groups = [sim.add_group(f"网格群{n}") for n in range(GROUPS)]
    for chat in groups:
        sim.set_member(chat, admin, "creator")
        sim.add_bot(chat, by=admin, status="member")
    await bind_all(tmp_path, groups)
    sent: list[tuple[int, int]] = []
    total = GROUPS * PER_GROUP
    async with running(sim, tmp_path, admin=admin, database="crash.db", settings=SETTINGS) as live:
        for n in range(total):
            chat = groups[n % GROUPS]
            message = sim.send_text(chat, residents[n % 10], f"#报修 {n}号楼楼道灯不亮")
            sent.append((chat.id, message["message_id"]))
            if n % 50 == 49:  # residents type; the bot fetches what they wrote meanwhile
                await polled_again(sim)
            if n and n % (total // (KILLS + 1)) == 0:
                await live.bot.kill9()
                await live.restart()

        async def settled() -> dict[int, int]:
            ids = await ticket_ids(tmp_path)
            counts = receipted(sim, groups, ids) if len(ids) == total else {}
            return counts if len(counts) == total else {}

        for _ in range(240):
            if await settled():
                break
            await asyncio.sleep(0.5)
        ids = await ticket_ids(tmp_path)
        counts = receipted(sim, groups, ids)
    assert len(ids) == total  # UNIQUE(chat_id, message_id): exactly one ticket per message
    assert set(ids) == set(sent)
    missing = [t for t in ids.values() if counts.get(t, 0) == 0]
    assert missing == []
    repeated = sum(c - 1 for c in counts.values() if c > 1)
    print(f"\n{total} messages, {KILLS} kills: {len(ids)} tickets, receipts repeated: {repeated}")
    assert repeated <= KILLS
