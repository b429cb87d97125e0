"""What the live benches share: the simulator on 127.0.0.1, a bot process polling it, receipts.

A live bench builds a world in a :class:`~bot.simulator.Simulator` (groups with the bot in them),
serves it over HTTP with ``start_server`` and starts a bot as a real process against it — the
``linlitong run`` console script, or ``python -m bench.bare_bot`` — with :mod:`bot.launcher`,
as the end-to-end tests and the demo do. The simulator lives in the bench's own event loop, so
what the bot sent is read straight from ``sim.calls``: each recorded call carries ``at``, the
simulator's monotonic clock when the request arrived, which is the moment a receipt reached
"Telegram".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.launcher import (
    RUN_SCRIPT,
    START_TIMEOUT,
    STOP_TIMEOUT,
    BotProcess,
    start_bot,
    wait_polling,
)
from bot.simulator import SimChat, SimServer, Simulator, SimUser, start_server
from storage import Storage

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
# A combined receipt links each report it acknowledges: t.me/c/<chat>/<message id>.
_MESSAGE_LINK = re.compile(r"^https://t\.me/c/\d+/(\d+)$")

Key = tuple[int, int]  # (chat id, message id)


def linlitong_command() -> list[str]:
    return list(RUN_SCRIPT)


def bare_command() -> list[str]:
    return [sys.executable, "-m", "bench.bare_bot"]


@contextmanager
def work_folder(keep: Path | None, prefix: str) -> Iterator[Path]:
    """Where a bench keeps databases and logs: ``--keep DIR`` (created, left in place) or a
    temporary folder removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


# The bot's business clock starts on a weekday morning (CLOCK_START, at normal speed): the
# daily digests (DIGEST_TIME, 18:00) and Monday charts stay hours away whatever the hour the
# bench runs, so they never build during a measurement.
MORNING: dict[str, str] = {"CLOCK_START": "2026-11-26T09:00:00+08:00", "CLOCK_SPEED": "1"}


@asynccontextmanager
async def bot_process(
    sim: Simulator,
    folder: Path,
    log: Path,
    *,
    command: Sequence[str] = RUN_SCRIPT,
    admin: SimUser | None = None,
    database: Path | None = None,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[BotProcess]:
    """``sim`` served on 127.0.0.1 and a bot process in ``folder`` polling it (it has polled once
    when this yields), its output in ``log``; both stopped (the bot with SIGTERM, then SIGKILL)
    whatever happens. The bot is given only what it is told here: no ``.env`` or shell setting
    leaks in."""
    server = await start_server(sim)
    try:
        bot = await start_bot(
            base_url=server.base_url,
            token=sim.token,
            database_path=database or folder / "bot.db",
            cwd=folder,
            admin_ids=(admin.id,) if admin is not None else (),
            log_path=log,
            # bench.bare_bot is not part of the installed distribution
            extra_env={"PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING", **(settings or {})},
            command=command,
        )
        try:
            await wait_polling(sim, bot, timeout=START_TIMEOUT)
            yield bot
        finally:
            await bot.stop(STOP_TIMEOUT)
    finally:
        await server.stop()


@asynccontextmanager
async def served(sim: Simulator) -> AsyncIterator[SimServer]:
    """``sim`` served on 127.0.0.1 (a free port) until the block ends, whatever happens."""
    server = await start_server(sim)
    try:
        yield server
    finally:
        await server.stop()


async def wait_idle(
    pids: Sequence[int], *, below: float = 0.05, every: float = 0.5, within: float = 60.0
) -> float:
    """Until the processes ``pids`` (with their children) together use less than ``below`` of
    a CPU over ``every`` seconds — a bot that has just started trains its models and warms its
    caches in the background, which must not count as the work measured next; seconds waited.
    Gives up (with a warning) after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    before = sum(tree_cpu_seconds(p) for p in pids)
    while loop.time() - started < within:
        await asyncio.sleep(every)  # a sampling interval, not a synchronisation
        now = sum(tree_cpu_seconds(p) for p in pids)
        if now - before < below * every:
            return loop.time() - started
        before = now
    logger.warning("the bots were still busy after %.0f s", within)
    return loop.time() - started


@dataclass
class Town:
    admin: SimUser
    residents: list[SimUser]
    groups: list[SimChat]


def build_town(sim: Simulator, groups: int, *, residents: int = 20) -> Town:
    """``groups`` supergroups, each with the admin as creator and the bot as a member.

    The join updates (the bot's ``my_chat_member`` and the service messages) are dropped before
    any bot polls: a welcome per group would only spend the budget the bench measures.
    """
    admin = sim.add_user("张书记")
    people = [sim.add_user(f"居民{n + 1}") for n in range(residents)]
    chats = []
    for n in range(groups):
        chat = sim.add_group(f"北瑞小区{n + 1}网格群")
        sim.set_member(chat, admin, "creator")
        sim.add_bot(chat, by=admin)
        chats.append(chat)
    sim.queue.drop_pending()
    return Town(admin, people, chats)


def grid_names(index: int) -> tuple[str, str, str]:
    """Grid, community and street of the ``index``-th group: five grids a community."""
    return f"第{index + 1}网格", f"北瑞{index // 5 + 1}社区", "交道口街道"


async def bind_by_command(sim: Simulator, town: Town, *, within: float) -> None:
    """``/bind`` in every group at once; returns when each one was answered."""
    pending: set[Key] = set()
    for index, chat in enumerate(town.groups):
        grid, community, street = grid_names(index)
        message = sim.send_text(chat, town.admin, f"/bind {grid} {community} {street}")
        pending.add((chat.id, int(message["message_id"])))

    def answered() -> bool:
        pending.difference_update([k for k in pending if sim.replies_to(*k)])
        return not pending

    await sim.wait_for(answered, timeout=within)


class ReceiptLog:
    """When each expected message was acknowledged: by a bot message replying to it, or by a
    combined receipt linking it. Reads ``sim.calls`` incrementally (call :meth:`scan`)."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._cursor = 0
        self.injected: dict[Key, float] = {}
        self.acknowledged: dict[Key, float] = {}
        self.replies = 0
        self.combined_messages = 0
        self.combined_receipts = 0
        self.doubled = 0  # acknowledgements of a message acknowledged before

    def expect(self, chat_id: int, message_id: int, at: float) -> None:
        self.injected[(chat_id, message_id)] = at

    def scan(self) -> None:
        calls = self._sim.calls
        while self._cursor < len(calls):
            call = calls[self._cursor]
            if call.method.lower() == "sendmessage":
                if call.result is None and call.error is None and not call.timed_out:
                    return  # still being answered: look again at the next scan
                if isinstance(call.result, dict):
                    self._read(call.result, call.at)
            self._cursor += 1

    def _read(self, message: dict[str, Any], at: float) -> None:
        chat_id = int(message["chat"]["id"])
        target = message.get("reply_to_message")
        if target is not None:
            key = (chat_id, int(target["message_id"]))
            if key in self.injected and key not in self.acknowledged:
                self.acknowledged[key] = at
                self.replies += 1
            elif key in self.acknowledged:
                self.doubled += 1
            return
        linked = [
            (chat_id, int(match.group(1)))
            for entity in message.get("entities", [])
            if entity.get("type") == "text_link"
            and (match := _MESSAGE_LINK.match(str(entity.get("url", ""))))
        ]
        fresh = [k for k in linked if k in self.injected and k not in self.acknowledged]
        self.doubled += sum(1 for k in linked if k in self.acknowledged)
        if fresh:
            self.combined_messages += 1
            self.combined_receipts += len(fresh)
            for key in fresh:
                self.acknowledged[key] = at

    def complete(self) -> bool:
        self.scan()
        return len(self.acknowledged) >= len(self.injected)

    @property
    def missing(self) -> int:
        return len(self.injected) - len(self.acknowledged)

    def latencies(self) -> list[float]:
        """Seconds from injection to acknowledgement, for the acknowledged messages."""
        return [
            self.acknowledged[k] - t for k, t in self.injected.items() if k in self.acknowledged
        ]


class HandOuts:
    """When ``getUpdates`` handed each message to the bot, and whether a poll was waiting then.

    Wraps the simulator's own ``UpdateQueue.get_updates`` in place (bench-only instrumentation).
    """

    def __init__(self, sim: Simulator) -> None:
        self.at: dict[Key, float] = {}
        self.waiting_polls = 0
        original = sim.queue.get_updates

        async def recorded(
            offset: int | None, limit: int, poll_seconds: float, allowed: list[str] | None
        ) -> list[dict[str, Any]]:
            self.waiting_polls += 1
            try:
                batch = await original(offset, limit, poll_seconds, allowed)
            finally:
                self.waiting_polls -= 1
            now = time.monotonic()
            for update in batch:
                message = update.get("message")
                if message is not None:
                    self.at.setdefault(
                        (int(message["chat"]["id"]), int(message["message_id"])), now
                    )
            return batch

        sim.queue.get_updates = recorded  # type: ignore[method-assign]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (``/proc/<pid>/stat``); NaN if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return math.nan
    # after the command: state is field 3, so utime (14) and stime (15) are at 11 and 12
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants (``/proc``), those that ended included:
    each process's own user + system time and its reaped children's (``cutime``, ``cstime``),
    so a child that exits moves its time into its parent's count. NaN if ``pid`` is gone."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        # after the command: ppid is field 4 (index 1); utime, stime, cutime, cstime 14-17
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick
    if pid not in used:
        return math.nan
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += used.get(current, 0.0)
        todo.extend(children.get(current, ()))
    return total


def peak_rss_mb(pid: int) -> float:
    """``VmHWM`` of a running process in MB (the kernel's high-water mark of its RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def machine() -> str:
    """nproc, CPU model, RAM and Python: printed by every live bench with its figures."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "? GB"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
                break
    python = ".".join(str(p) for p in sys.version_info[:3])
    return f"{os.cpu_count()} CPUs, {model}, {memory} RAM, Python {python}"


async def bind_in_database(target: Path | str, groups: Sequence[SimChat], admin_id: int) -> None:
    """Every group bound to its grid (``grid_names``), as ``/bind`` would have left it, straight
    in the database (SQLite path or PostgreSQL URL) rather than with a send per group."""
    storage = await Storage.open(target)
    try:
        now = datetime.now(UTC)
        for index, chat in enumerate(groups):
            grid, community, street = grid_names(index)
            await storage.grids.bind_grid(
                chat_id=chat.id,
                title=chat.title or "",
                grid=grid,
                community=community,
                street=street,
                by=admin_id,
                now=now,
            )
    finally:
        await storage.close()
