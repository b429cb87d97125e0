"""VirtualClock: monotonic time that moves when told, or when every task waits for it."""

from __future__ import annotations

import asyncio

import pytest

from bot.clock import SYSTEM_MONOTONIC, MonotonicClock, VirtualClock


async def test_a_sleeper_wakes_when_time_is_advanced_to_its_deadline() -> None:
    clock = VirtualClock(100.0)
    sleeper = asyncio.create_task(clock.sleep(5))
    await clock.wait_for_sleepers(1)
    clock.advance(4.9)
    assert clock.sleeping == 1 and not sleeper.done()
    assert clock.advance(0.1) == pytest.approx(105.0)
    await sleeper
    assert clock.sleeping == 0
    with pytest.raises(ValueError, match="back"):
        clock.advance(-1)


async def test_autojump_moves_only_once_every_task_is_asleep() -> None:
    clock = VirtualClock(autojump=True)
    readings: list[float] = []
    woke: dict[str, float] = {}

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke[name] = clock.monotonic()

    async def worker() -> None:
        for _ in range(50):  # busy for many turns of the loop: time must stand still
            readings.append(clock.monotonic())
            await asyncio.sleep(0)
        await sleeper("worker", 3)

    await asyncio.gather(sleeper("long", 10), worker(), sleeper("short", 0.5))
    assert readings == [0.0] * 50
    assert woke == {"short": 0.5, "worker": 3.0, "long": 10.0}


async def test_autojump_waits_for_work_the_loop_cannot_see() -> None:
    """A statement in sqlite's thread leaves the loop idle: ``busy`` holds time still."""
    clock = VirtualClock(autojump=True)
    working = False
    clock.busy = lambda: working
    seen: list[float] = []

    async def in_a_thread() -> None:
        nonlocal working
        working = True
        try:
            await asyncio.to_thread(sum, range(2_000_000))
            seen.append(clock.monotonic())
        finally:
            working = False

    await asyncio.gather(clock.sleep(10), in_a_thread())
    assert seen == [0.0]  # the sleeper's ten seconds came after the thread's work
    assert clock.monotonic() == 10.0


async def test_a_sleeper_holding_what_busy_reports_fails_instead_of_hanging() -> None:
    clock = VirtualClock(autojump=True, busy=lambda: True, stuck_after=0.05)
    with pytest.raises(RuntimeError, match="virtual time stuck"):
        await clock.sleep(1)
    assert clock.monotonic() == 0.0


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    clock = VirtualClock(autojump=True)
    forgotten = asyncio.create_task(clock.sleep(1))
    await clock.wait_for_sleepers(1)
    forgotten.cancel()
    await clock.sleep(5)
    assert clock.monotonic() == 5.0
    assert forgotten.cancelled() and clock.sleeping == 0


async def test_the_system_clock_is_a_monotonic_clock() -> None:
    clock: MonotonicClock = SYSTEM_MONOTONIC
    before = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() >= before
