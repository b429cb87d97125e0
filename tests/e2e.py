"""What the end-to-end tests share: the simulator on 127.0.0.1, the real `linlitong run`, a grid.

sim = Simulator()
cast = grid_cast(sim)
async with running(sim, tmp_path, admin=cast.admin, settings={"TICK_INTERVAL": "1s"}) as live:
    await bind(sim, cast.grid, cast.admin, "/bind 第一网格 通顺社区")
    …
    await live.bot.kill9()
    await live.restart()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.launcher import RUN_SCRIPT, BotProcess, start_bot, wait_polling
from bot.simulator import SimChat, SimServer, Simulator, SimUser, start_server

JSON = dict[str, Any]


@dataclass
class Cast:
    """A grid's group: its admin (creator), a resident and an officer (an administrator)."""

    admin: SimUser
    resident: SimUser
    officer: SimUser
    grid: SimChat


def grid_cast(sim: Simulator, admin: SimUser | None = None) -> Cast:
    """张书记 creates 北瑞小区一网格 with 王阿姨 and 刘网格员 in it, then adds the bot."""
    admin = admin or sim.add_user("张书记")
    resident, officer = sim.add_user("王阿姨"), sim.add_user("刘网格员")
    grid = sim.add_group("北瑞小区一网格")
    sim.set_member(grid, admin, "creator")
    sim.set_member(grid, resident, "member")
    sim.set_member(grid, officer, "administrator")
    sim.add_bot(grid, by=admin, status="member")
    return Cast(admin, resident, officer, grid)


@dataclass
class Live:
    """The simulator's server and the bot process polling it (started again after a crash)."""

    sim: Simulator
    server: SimServer
    bot: BotProcess
    start: Callable[[], Awaitable[BotProcess]]

    async def restart(self) -> None:
        """A new process on the same database, after the last one ended (``bot.kill9()``)."""
        assert self.bot.returncode is not None, "the bot is still running"
        self.bot = await self.start()


@asynccontextmanager
async def running(
    sim: Simulator,
    tmp_path: Path,
    *,
    admin: SimUser | None = None,
    database: str = "live.db",
    log: bool = True,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[Live]:
    """The installed ``linlitong run`` in ``tmp_path`` against ``sim``, polling before it yields;
    its output in ``tmp_path/bot.log`` unless ``log`` is false. Stopped whatever happens."""
    server = await start_server(sim)

    async def start() -> BotProcess:
        return await start_bot(
            base_url=server.base_url,
            token=sim.token,
            database_path=tmp_path / database,
            cwd=tmp_path,
            admin_ids=(admin.id,) if admin else (),
            log_path=tmp_path / "bot.log" if log else None,
            extra_env=settings,
            command=RUN_SCRIPT,
        )

    try:
        live = Live(sim, server, await start(), start)
        try:
            await wait_polling(sim, live.bot)
            yield live
        finally:
            await live.bot.stop()
    finally:
        await server.stop()


def replied(sim: Simulator, chat: SimChat, message_id: int) -> Callable[[], list[JSON]]:
    return lambda: sim.replies_to(chat.id, message_id)


async def reply_to(sim: Simulator, chat: SimChat, message_id: int, within: float = 10) -> JSON:
    """The one reply to a message, once it comes."""
    replies = await sim.wait_for(replied(sim, chat, message_id), timeout=within)
    assert len(replies) == 1, replies
    reply: JSON = replies[0]
    return reply


async def bind(sim: Simulator, chat: SimChat, admin: SimUser, command: str) -> JSON:
    """``/bind …`` or ``/supervise …`` sent by ``admin``; the answer."""
    sent = sim.send_text(chat, admin, command)
    return await reply_to(sim, chat, sent["message_id"], within=30)


def count(sim: Simulator, chat: SimChat, needle: str) -> int:
    """How many of the bot's messages in ``chat`` contain ``needle``."""
    return sum(1 for m in sim.bot_messages(chat.id) if needle in m.get("text", ""))
