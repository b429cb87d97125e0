"""kill -9 the bot three times during an ingest of 1,500 tagged messages; restart each time.

Afterwards every message is exactly one ticket, and every ticket has its receipt (its own, or a
line in a combined one). Telegram's Bot API has no idempotent send, so a kill between Telegram
accepting a receipt and the outbox marking it sent repeats that receipt: the test allows at
most one repeat per kill and reports how many it saw.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.simulator import Simulator, start_server
from bot.simulator.models import SimChat
from storage import Storage

pytestmark = pytest.mark.e2e
LINLITONG = str(Path(sys.executable).parent / "linlitong")
GROUPS, PER_GROUP, KILLS = 50, 30, 3
_TICKET = re.compile(r"工单 (\d+)")


async def start(tmp_path: Path, base_url: str, token: str, admin: int) -> Any:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BOT_TOKEN": token,
        "BOT_API_BASE_URL": base_url,
        "DATABASE_PATH": str(tmp_path / "crash.db"),
        "ADMIN_IDS": str(admin),
        "POLL_TIMEOUT": "1",
        "LOG_LEVEL": "WARNING",
        "DIGEST_TIME": "23:59",
    }
    log = (tmp_path / "bot.log").open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            LINLITONG, "run", cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    finally:
        log.close()


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
    server = await start_server(sim)
    process = await start(tmp_path, server.base_url, sim.token, admin.id)
    sent: list[tuple[int, int]] = []
    total = GROUPS * PER_GROUP
    try:
        for n in range(total):
            chat = groups[n % GROUPS]
            message = sim.send_text(chat, residents[n % 10], f"#报修 {n}号楼楼道灯不亮")
            sent.append((chat.id, message["message_id"]))
            if n % 50 == 49:
                await asyncio.sleep(0.05)  # residents type; the bot works meanwhile
            if n and n % (total // (KILLS + 1)) == 0:
                process.send_signal(signal.SIGKILL)
                await process.wait()
                process = await start(tmp_path, server.base_url, sim.token, admin.id)

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
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=20)
        await server.stop()
    assert len(ids) == total  # UNIQUE(chat_id, message_id): exactly one ticket per message
    assert set(ids) == set(sent)
    missing = [t for t in ids.values() if counts.get(t, 0) == 0]
    assert missing == []
    repeated = sum(c - 1 for c in counts.values() if c > 1)
    print(f"\n{total} messages, {KILLS} kills: {len(ids)} tickets, receipts repeated: {repeated}")
    assert repeated <= KILLS
