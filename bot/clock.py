"""The injectable clocks, so that tests move time instead of sleeping.

``Clock`` is business time: scheduling and timestamps read it (``ManualClock`` in tests).
``MonotonicClock`` is what the flood budget measures its windows with and sleeps on
(``VirtualClock`` in tests, shared with the simulator's limits).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


class ScaledClock:
    """Business time that runs ``speed`` times faster than the wall (the demo plays a day in
    seconds); it starts at ``start`` (default: now)."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("CLOCK_SPEED must be positive")
        self.speed = speed
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)


# --- monotonic time: what rate limits measure, and how they wait ------------------------------


class MonotonicClock(Protocol):
    """Seconds that only go forward, and a way to wait for them (the flood budget reads it; the
    simulator's limits can read the same one, so both measure their windows alike)."""

    def monotonic(self) -> float:
        """Seconds since an arbitrary start."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until ``monotonic()`` has moved on by at least ``seconds``."""
        ...


class SystemMonotonic:
    """``time.monotonic`` and ``asyncio.sleep``: the real thing (production)."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_MONOTONIC = SystemMonotonic()

_QUIET_ROUNDS = 3  # loop turns with nothing ready before virtual time jumps
_BLIND_ROUNDS = 200  # the same, on a loop whose ready queue cannot be seen
_BUSY_POLL = 0.001  # real seconds between looks while ``busy`` says work is under way elsewhere


class VirtualClock:
    """Monotonic time for tests: it moves only when told (:meth:`advance`) or, with
    ``autojump``, by itself — to the earliest sleeper's deadline, once every task is asleep or
    waiting on one that is (nothing else is ready to run and ``busy()`` is false).

    So a budget waiting out Telegram's windows costs no real time, and how long things take
    in virtual time does not depend on how fast the machine is. ``busy`` reports work the event
    loop cannot see (a statement running in sqlite's thread): time does not jump under it.
    """

    def __init__(
        self,
        start: float = 0.0,
        *,
        autojump: bool = False,
        busy: Callable[[], bool] | None = None,
        stuck_after: float = 60.0,
    ) -> None:
        self._now = start
        self.autojump = autojump
        self.busy = busy
        # real seconds of ``busy`` while tasks sleep: a sleeper holds what it reports
        self.stuck_after = stuck_after
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._jumper: asyncio.Task[None] | None = None
        self._watchers: list[asyncio.Event] = []

    def monotonic(self) -> float:
        return self._now

    @property
    def sleeping(self) -> int:
        """Tasks asleep on this clock right now."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        # at least one step on: a wait computed as ``span - elapsed`` can round to nothing
        deadline = max(self._now + seconds, math.nextafter(self._now, math.inf))
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        for watcher in self._watchers:
            watcher.set()
        if self.autojump and (self._jumper is None or self._jumper.done()):
            self._jumper = loop.create_task(self._jump(), name="virtual-clock")
        await future

    async def wait_for_sleepers(self, count: int = 1, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` tasks are asleep on this clock (``timeout``: real seconds, a
        generous bound for a condition, not a measurement)."""
        async with asyncio.timeout(timeout):
            while self.sleeping < count:
                watcher = asyncio.Event()
                self._watchers.append(watcher)
                try:
                    await watcher.wait()
                finally:
                    self._watchers.remove(watcher)

    def advance(self, seconds: float) -> float:
        """Move time on by ``seconds`` and wake the sleepers whose time has come."""
        if seconds < 0:
            raise ValueError("monotonic time does not go back")
        self._now += seconds
        self._wake()
        return self._now

    def _wake(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def _next_deadline(self) -> float | None:
        while self._sleepers and self._sleepers[0][2].done():  # cancelled while asleep
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    async def _jump(self) -> None:
        while True:
            try:
                await self._settle()
            except TimeoutError:
                self._fail_sleepers()
                return
            deadline = self._next_deadline()
            if deadline is None or not self.autojump:  # nobody asleep, or told to stop
                return
            self._now = max(self._now, deadline)
            self._wake()

    async def _settle(self) -> None:
        """Return once nothing but sleepers is left to run."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)  # CPython's queue of callbacks about to run
        needed = _QUIET_ROUNDS if ready is not None else _BLIND_ROUNDS
        quiet = 0
        busy_since: float | None = None
        while quiet < needed:
            if self.busy is not None and self.busy():
                quiet = 0
                busy_since = loop.time() if busy_since is None else busy_since
                if loop.time() - busy_since > self.stuck_after:
                    raise TimeoutError
                await asyncio.sleep(_BUSY_POLL)  # another thread's work: look again shortly
                continue
            busy_since = None
            await asyncio.sleep(0)
            quiet = 0 if ready else quiet + 1

    def _fail_sleepers(self) -> None:
        """``busy()`` never ended while tasks slept: a sleeper holds what it reports (a task
        asleep inside a database transaction, say). Fail them rather than hang."""
        error = RuntimeError(
            f"virtual time stuck: busy() stayed true {self.stuck_after:g} s while tasks slept"
        )
        for _, _, future in self._sleepers:
            if not future.done():
                future.set_exception(error)
        self._sleepers.clear()
