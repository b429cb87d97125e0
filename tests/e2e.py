"""What the end-to-end tests share: the simulator on 127.0.0.1, the real `linlitong run`, a grid.

sim = Simulator()
cast = grid_cast(sim)
async with running(sim, tmp_path, database=database, admin=cast.admin) as live:
    await bind(sim, cast.grid, cast.admin, "/bind 第一网格 通顺社区")
    …
    await live.bot.kill9()
    await live.restart()

``database`` is the tests' fixture of that name (conftest.py): an SQLite file or a PostgreSQL URL,
so that each end-to-end test runs on both engines (and inspects that database afterwards).

``running(..., webhook=True)`` starts ``linlitong run --webhook`` on a free loopback port instead;
the simulator then POSTs updates to ``live.webhook_url``.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.launcher import RUN_SCRIPT, BotProcess, start_bot, wait_polling, wait_webhook
from bot.simulator import SimChat, SimServer, Simulator, SimUser, start_server
from storage import is_url

JSON = dict[str, Any]
WEBHOOK_SECRET = "e2e-webhook_secret-0123456789"


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
    webhook_url: str | None = None  # set when the bot runs with --webhook

    async def restart(self) -> None:
        """A new process on the same database, after the last one ended (``bot.kill9()``)."""
        assert self.bot.returncode is not None, "the bot is still running"
        self.bot = await self.start()


@asynccontextmanager
async def running(
    sim: Simulator,
    tmp_path: Path,
    *,
    database: Path | str = "live.db",
    admin: SimUser | None = None,
    log: bool = True,
    settings: Mapping[str, str] | None = None,
    webhook: bool = False,
) -> AsyncIterator[Live]:
    """The installed ``linlitong run`` in ``tmp_path`` against ``sim``, polling (or, with
    ``webhook``, its webhook set) before it yields; its output in ``tmp_path/bot.log`` unless
    ``log`` is false. Stopped whatever happens. ``database``: a PostgreSQL URL, or an SQLite
    file (a name is one in ``tmp_path``)."""
    target = database if is_url(database) else tmp_path / database
    server = await start_server(sim)
    command, webhook_url, extra = RUN_SCRIPT, None, dict(settings or {})
    if webhook:
        listen = f"127.0.0.1:{free_port()}"
        webhook_url = f"http://{listen}/telegram"
        command = (*RUN_SCRIPT, "--webhook")
        extra = {
            "WEBHOOK_URL": webhook_url,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "WEBHOOK_LISTEN": listen,
            **extra,
        }

    async def start() -> BotProcess:
        return await start_bot(
            base_url=server.base_url,
            token=sim.token,
            database_path=target,
            cwd=tmp_path,
            admin_ids=(admin.id,) if admin else (),
            log_path=tmp_path / "bot.log" if log else None,
            extra_env=extra,
            command=command,
        )

    try:
        live = Live(sim, server, await start(), start, webhook_url)
        try:
            await (wait_webhook if webhook else wait_polling)(sim, live.bot)
            yield live
        finally:
            await live.bot.stop()
    finally:
        await server.stop()


def free_port() -> int:
    """A loopback port nobody listens on now (bound and released: a process must take it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


async def vote(
    live: Live, chat: SimChat, poll: JSON | int | str, user: SimUser, *options: int
) -> JSON:
    """``user`` taps ``options`` (indexes; none = retract) of the bot's poll — its message,
    message id or poll id — through the simulator's HTTP control API, as another process would
    drive it; the poll's new state. ``AssertionError`` with the refusal if the simulator refuses
    (a closed poll, two options of a single-answer poll, nothing to retract …)."""
    body: JSON = {"chat_id": chat.id, "user_id": user.id, "option_ids": list(options)}
    if isinstance(poll, str):
        body["poll_id"] = poll
    else:
        body["message_id"] = poll if isinstance(poll, int) else poll["message_id"]
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{live.server.control_url}/answer_poll", json=body) as response,
    ):
        answer = await response.json()
    assert answer["ok"], answer
    result: JSON = answer["result"]
    return result


def polls(sim: Simulator, chat: SimChat) -> list[JSON]:
    """The bot's poll messages in ``chat``, oldest first; ``["poll"]`` is the current state."""
    return sim.poll_messages(chat.id)
