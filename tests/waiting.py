"""Waiting on a condition that only the database server can change (a closed session ending, a
worker that polls it): asked again and again, with a bound, never a fixed pause."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

WAIT_S = 10.0  # real seconds: a bound for the condition, not a pause
STEP_S = 0.02  # between two questions; the answer, not this, decides when the wait ends


async def eventually(check: Callable[[], Awaitable[bool]], within: float = WAIT_S) -> bool:
    """Ask ``check`` until it says yes (True), or ``within`` seconds have passed (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(STEP_S)
    return True
