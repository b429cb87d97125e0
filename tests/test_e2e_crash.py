"""kill -9 the bot three times during an ingest of 1,500 tagged messages; restart each time.

Afterwards every message is exactly one ticket, and every ticket has its receipt (its own, or a
line in a combined one). Telegram's Bot API has no idempotent send, so a kill between Telegram
accepting a receipt and the outbox marking it sent repeats that receipt. Chats are drained
concurrently, one message at a time each, so a kill may catch a receipt in flight in every chat
(a combined one: several tickets). The test allows, in each chat, one receipt repeated per kill,
its tickets sent again before anything else, and reports how many repeats it saw.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.simulator import Simulator
from bot.simulator.models import SimChat
from storage import Storage
from tests.e2e import running

pytestmark = pytest.mark.e2e
JSON = dict[str, Any]
GROUPS, PER_GROUP, KILLS = 50, 30, 3
_OWN_RECEIPT = re.compile(r"工单 (\d+) 已登记")
_COMBINED_LINE = re.compile(r"^· 工单 (\d+)", re.MULTILINE)
SETTINGS = {"LOG_LEVEL": "WARNING", "DIGEST_TIME": "23:59"}


async def bind_all(database: Path | str, groups: list[SimChat]) -> None:
    storage = await Storage.open(database)
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


def named(message: JSON) -> set[int]:
    """The tickets a receipt acknowledges: its own (``工单 N 已登记``, a reply to the report) or
    the lines of a combined one; none for any other message."""
    text = message.get("text", "")
    if "条报事" in text:
        return {int(number) for number in _COMBINED_LINE.findall(text)}
    own = _OWN_RECEIPT.search(text)
    return {int(own.group(1))} if own and "reply_to_message" in message else set()


def receipted(
    sim: Simulator, groups: list[SimChat], ids: dict[tuple[int, int], int]
) -> dict[int, int]:
    """How many receipts each ticket got: its own replies plus lines of combined receipts."""
    counts: dict[int, int] = {}
    for chat in groups:
        for message in sim.bot_messages(chat.id):
            text = message.get("text", "")
            if "条报事" in text:
                for number in named(message):
                    counts[number] = counts.get(number, 0) + 1
            elif "已登记" in text and "reply_to_message" in message:
                ticket = ids.get((chat.id, message["reply_to_message"]["message_id"]))
                if ticket is not None:
                    counts[ticket] = counts.get(ticket, 0) + 1
    return counts


def acknowledged(sim: Simulator, groups: list[SimChat]) -> set[int]:
    """The tickets some receipt names."""
    return {t for chat in groups for m in sim.bot_messages(chat.id) for t in named(m)}


def receipts_in(sim: Simulator, chat: SimChat) -> list[set[int]]:
    """The tickets each of the bot's receipts in ``chat`` names, in the order they were sent."""
    return [tickets for message in sim.bot_messages(chat.id) if (tickets := named(message))]


def named_again(receipts: list[set[int]]) -> dict[int, set[int]]:
    """The tickets named more than once, by the position of the receipt that first named them."""
    first: dict[int, int] = {}
    again: dict[int, set[int]] = {}
    for at, tickets in enumerate(receipts):
        for ticket in tickets:
            if first.setdefault(ticket, at) != at:
                again.setdefault(first[ticket], set()).add(ticket)
    return again


def sent_again_at_once(receipts: list[set[int]], first: int, tickets: set[int]) -> bool:
    """Every receipt after the one at ``first``, up to the last that names one of ``tickets``,
    names one of them: they were sent again before anything else was."""
    last = max(at for at, some in enumerate(receipts) if some & tickets)
    return all(receipts[at] & tickets for at in range(first + 1, last + 1))


async def polled_again(sim: Simulator) -> None:
    """Wait until the bot asks for updates once more: it has fetched what was sent so far."""
    polls = len(sim.calls_to("getUpdates"))
    await sim.wait_for(lambda: len(sim.calls_to("getUpdates")) > polls, timeout=60)


async def ticket_ids(database: Path | str) -> dict[tuple[int, int], int]:
    storage = await Storage.open(database)
    try:
        rows = await storage.db.fetch_all("SELECT chat_id, message_id, id FROM tickets")
        return {(r[0], r[1]): r[2] for r in rows}
    finally:
        await storage.close()


async def test_kill_9_during_ingest(tmp_path: Path, database: Path | str) -> None:
    sim = Simulator()
    admin = sim.add_user("张书记")
    residents = [sim.add_user(f"居民{n}") for n in range(10)]
    groups = [sim.add_group(f"网格群{n}") for n in range(GROUPS)]
    for chat in groups:
        sim.set_member(chat, admin, "creator")
        sim.add_bot(chat, by=admin, status="member")
    await bind_all(database, groups)
    sent: list[tuple[int, int]] = []
    total = GROUPS * PER_GROUP
    async with running(sim, tmp_path, database=database, admin=admin, settings=SETTINGS) as live:
        for n in range(total):
            chat = groups[n % GROUPS]
            message = sim.send_text(chat, residents[n % 10], f"#报修 {n}号楼楼道灯不亮")
            sent.append((chat.id, message["message_id"]))
            if n % 50 == 49:  # residents type; the bot fetches what they wrote meanwhile
                await polled_again(sim)
            if n and n % (total // (KILLS + 1)) == 0:
                await live.bot.kill9()
                await live.restart()

        # as many tickets named by receipts as messages sent: then count them against the database
        await sim.wait_for(lambda: len(acknowledged(sim, groups)) >= total, timeout=90)
        ids = await ticket_ids(database)
        counts = receipted(sim, groups, ids)
    assert len(ids) == total  # UNIQUE(chat_id, message_id): exactly one ticket per message
    assert set(ids) == set(sent)
    missing = [t for t in ids.values() if counts.get(t, 0) == 0]
    assert missing == []
    repeated = sum(c - 1 for c in counts.values() if c > 1)
    print(f"\n{total} messages, {KILLS} kills: {len(ids)} tickets, receipts repeated: {repeated}")
    # A kill catches at most one receipt in flight in each chat; the next process sends its
    # tickets again before anything else (alone or with newer ones).
    for chat in groups:
        receipts = receipts_in(sim, chat)
        again = named_again(receipts)
        assert len(again) <= KILLS, (chat.title, receipts)
        for first, tickets in again.items():
            assert sent_again_at_once(receipts, first, tickets), (chat.title, receipts)
