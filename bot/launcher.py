"""`linlitong run` as a real process against a local Bot API (the demo, end-to-end tests, benches).

The process gets an environment of its own: ``PATH``, the settings it is started with and
``extra_env``, nothing else of the caller's, so neither a shell's settings nor its proxies leak in
(a ``.env`` is read from ``cwd``: start it in a folder without one). Its database is an SQLite
file (DATABASE_PATH) or, given a ``postgresql://`` URL, PostgreSQL (DATABASE_URL).

    bot = await start_bot(base_url=server.base_url, token=sim.token, database_path=db, cwd=tmp)
    try:
        await wait_polling(sim, bot)      # or wait_webhook, for `linlitong run --webhook`
        …
    finally:
        await bot.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage.db import is_url

if TYPE_CHECKING:
    from bot.simulator import Simulator

logger = logging.getLogger(__name__)

RUN_MODULE: tuple[str, ...] = (sys.executable, "-m", "bot", "run")
"""``python -m bot run`` with this interpreter: works wherever ``bot`` is importable."""
SCRIPT = str(Path(sys.executable).parent / "linlitong")
"""The console script installed beside this interpreter: what a deployment starts."""
RUN_SCRIPT: tuple[str, ...] = (SCRIPT, "run")
STOP_TIMEOUT = 20.0  # seconds from SIGTERM to SIGKILL
START_TIMEOUT = 60.0  # imports, migrations and the first getUpdates of a cold process
# Long polls of a second: a stop is answered within one, and a local server loses nothing by it.
LOCAL_DEFAULTS: Mapping[str, str] = {"POLL_TIMEOUT": "1"}


@dataclass
class BotProcess:
    """A started bot; :meth:`stop` it whatever happens."""

    process: asyncio.subprocess.Process
    log_path: Path | None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Its exit status; ``TimeoutError`` if it is still running after ``timeout`` seconds."""
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> int:  # noqa: ASYNC109 - the grace
        """SIGTERM, up to ``timeout`` seconds for a clean exit, then SIGKILL; its exit status."""
        if self.returncode is None:
            self._signal(signal.SIGTERM)
            try:
                return await self.wait(timeout)
            except TimeoutError:
                logger.warning("the bot (pid %d) ignored SIGTERM for %ss", self.pid, timeout)
                self._signal(signal.SIGKILL)
        return await self.process.wait()

    async def kill9(self) -> int:
        """SIGKILL, no chance to clean up (a crash); its exit status."""
        self._signal(signal.SIGKILL)
        return await self.process.wait()

    def log(self) -> str:
        """What it has written to ``log_path`` so far."""
        if self.log_path is None:
            raise ValueError("this bot's output was not sent to a file")
        return self.log_path.read_text("utf-8", errors="replace")

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # it has just exited by itself
            self.process.send_signal(number)


def _environment(
    *,
    base_url: str,
    token: str,
    database_path: Path | str,
    admin_ids: Iterable[int] = (),
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a bot process: ``PATH``, these settings, ``extra_env``."""
    database = "DATABASE_URL" if is_url(database_path) else "DATABASE_PATH"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BOT_TOKEN": token,
        "BOT_API_BASE_URL": base_url,
        database: str(database_path),
        "ADMIN_IDS": ",".join(str(i) for i in admin_ids),
        **LOCAL_DEFAULTS,
        **(extra_env or {}),
    }


async def start_bot(
    *,
    base_url: str,
    token: str,
    database_path: Path | str,
    cwd: Path,
    admin_ids: Iterable[int] = (),
    log_path: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    command: Sequence[str] = RUN_MODULE,
) -> BotProcess:
    """Start ``command`` (``linlitong run``) in ``cwd`` on ``database_path``, an SQLite file or a
    ``postgresql://`` URL; its output is appended to ``log_path``, or goes where this process's
    goes when there is none."""
    env = _environment(
        base_url=base_url,
        token=token,
        database_path=database_path,
        admin_ids=admin_ids,
        extra_env=extra_env,
    )
    if log_path is None:
        process = await asyncio.create_subprocess_exec(*command, cwd=cwd, env=env)
    else:
        with log_path.open("ab") as sink:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=cwd, env=env, stdout=sink, stderr=sink
            )
    return BotProcess(process, log_path)


async def wait_polling(
    sim: Simulator,
    bot: BotProcess,
    *,
    after: int = 0,
    timeout: float = START_TIMEOUT,  # noqa: ASYNC109 - like Simulator.wait_for's
) -> None:
    """Until the simulator has seen more than ``after`` getUpdates calls (the bot is up); a bot
    that exits first is a ``RuntimeError``, not a slow bot."""
    await _wait_up(sim, bot, lambda: len(sim.calls_to("getUpdates")) > after, timeout)


async def wait_webhook(
    sim: Simulator,
    bot: BotProcess,
    *,
    after: int = 0,
    timeout: float = START_TIMEOUT,  # noqa: ASYNC109 - like Simulator.wait_for's
) -> None:
    """Until the simulator has accepted more than ``after`` setWebhook calls: a bot started with
    ``--webhook`` sets it once it listens. A bot that exits first is a ``RuntimeError``."""

    def set_webhooks() -> int:
        return sum(1 for c in sim.calls_to("setWebhook") if c.error is None and c.result is True)

    await _wait_up(sim, bot, lambda: set_webhooks() > after, timeout)


async def _wait_up(
    sim: Simulator,
    bot: BotProcess,
    up: Callable[[], bool],
    timeout: float,  # noqa: ASYNC109
) -> None:
    await sim.wait_for(lambda: bot.returncode is not None or up(), timeout=timeout)
    if bot.returncode is not None:
        where = f"; see {bot.log_path}" if bot.log_path else ""
        raise RuntimeError(f"the bot exited with {bot.returncode} at start-up{where}")
