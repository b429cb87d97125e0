"""The flood budget and its limiter: reservations, paid broadcast, Telegram refusing payment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.clock import VirtualClock
from bot.context import runtime_of
from bot.ratelimit import TelegramBudget
from bot.simulator import Simulator
from bot.simulator.models import RateLimits
from tests.harness import Harness, harness


class TickingClock(VirtualClock):
    """Every reading a millisecond after the last, as a real clock's readings differ."""

    def monotonic(self) -> float:
        return self.advance(0.001)


def test_free_rate_first_paid_only_when_it_is_spent() -> None:
    clock = VirtualClock(1000.0)
    budget = TelegramBudget(global_per_second=3, paid_per_second=2, clock=clock)
    assert [budget.take(-1, payable=True) for _ in range(3)] == [False, False, False]
    assert budget.wait_time(-1, payable=True) == 0  # the paid window has room
    assert budget.wait_time(-1, payable=False) > 0.9  # an edit cannot be paid for
    assert [budget.take(-2, payable=True) for _ in range(2)] == [True, True]
    assert budget.wait_time(-3, payable=True) > 0.9  # both windows full
    assert budget.paid_sent == 2
    clock.advance(1.1)
    assert budget.take(-4, payable=True) is False  # free again: nothing to pay


def test_paid_broadcast_off_never_pays() -> None:
    budget = TelegramBudget(global_per_second=2, clock=VirtualClock(1000.0))
    assert [budget.take(-1, payable=True) for _ in range(4)] == [False] * 4
    assert budget.wait_time(-5, payable=True) > 0.9
    assert budget.paid_sent == 0


def test_a_reservation_is_claimed_once_and_released_if_unused() -> None:
    budget = TelegramBudget(global_per_second=2, clock=VirtualClock(1000.0))
    budget.reserve(-1)
    assert budget.claim(-1) is False  # reserved, free rate
    assert budget.claim(-1) is None  # used up
    budget.reserve(-2)
    budget.release()
    assert budget.claim(-2) is None
    # both reservations were counted: the window is full until it slides
    assert budget.wait_time(-3) > 0.9
    assert budget.remaining(-1) == 19 and budget.remaining(-2) == 19


async def test_a_reservation_is_only_for_the_task_that_made_it() -> None:
    budget = TelegramBudget(clock=VirtualClock(1000.0))
    reserved, handled = asyncio.Event(), asyncio.Event()

    async def sender() -> tuple[bool | None, bool | None]:
        budget.reserve(-1)
        reserved.set()
        await handled.wait()
        return budget.claim(-2), budget.claim(-1)  # another chat: no; its own: yes

    async def handler() -> bool | None:  # a handler's request to the same chat meanwhile
        await reserved.wait()
        try:
            return budget.claim(-1)
        finally:
            handled.set()

    outcome = await asyncio.gather(sender(), handler())
    assert list(outcome) == [(None, False), None]


def test_a_claimed_reservation_counts_from_when_the_message_leaves() -> None:
    clock = VirtualClock(1000.0)
    budget = TelegramBudget(global_per_second=1, clock=clock, margin=0.0)
    budget.reserve(-1)
    clock.advance(0.5)  # composing took half a second
    assert budget.claim(-1) is False
    clock.advance(0.6)  # 1.1 s after the reservation, 0.6 s after the send
    assert budget.wait_time(-2) > 0.3  # Telegram counts the send, so the window is still full
    assert budget.remaining(-1) == 19  # counted once, at the send


async def test_the_budget_waits_on_its_own_clock_and_exactly_as_long_as_it_said() -> None:
    clock = VirtualClock(1000.0)  # never moves by itself: only what the budget waits for
    budget = TelegramBudget(global_per_second=30, clock=clock)
    for _ in range(30):
        budget.take(-1)
    clock.advance(0.3)
    wait = budget.wait_time(None)
    assert wait == pytest.approx(1.05 - 0.3)  # the second, and the margin's twentieth of it
    waiting = asyncio.create_task(budget.wait_until_free(None))
    await clock.wait_for_sleepers(1)
    clock.advance(wait)  # 1000 + 1.05 - 1000 rounds short of 1.05: free all the same
    assert budget.wait_time(None) == 0
    assert await asyncio.wait_for(waiting, 30) is True
    assert await budget.wait_until_free(None) is False  # free: no sleep at all


def test_claiming_a_reservation_counts_the_message_once() -> None:
    budget = TelegramBudget(global_per_second=5, clock=TickingClock())  # every reading differs
    for _ in range(3):
        budget.reserve(-1)
        assert budget.claim(-1) is False
    assert budget.remaining(-1) == 17
    budget.take(-1)
    assert budget.remaining(-1) == 16
    assert budget.wait_time(-2) == 0  # 4 of the 5 a second used


def errors(bot: Harness, code: int) -> int:
    return sum(1 for c in bot.sim.calls if c.error is not None and c.error.error_code == code)


async def test_paid_broadcast_sends_60_receipts_at_once_paying_for_those_past_30(
    tmp_path: Path,
) -> None:
    clock = VirtualClock(autojump=True)  # Telegram's and the budget's seconds, in no real time
    sim = Simulator(clock=clock.monotonic, limits=RateLimits())
    budget = TelegramBudget(paid_per_second=1000, clock=clock)
    async with harness(tmp_path, sim=sim, budget=budget) as bot:
        resident = bot.sim.add_user("王阿姨")
        chats = await bot.bound_groups(60, resident)
        clock.advance(1.1)  # the welcomes' second has passed
        bot.sim.limits = RateLimits()  # and the simulator forgets them too
        calls = len(bot.sim.calls)
        paid_before, sim_paid_before = budget.paid_sent, bot.sim.paid_messages
        started = clock.monotonic()
        reports = [bot.sim.send_text(chat, resident, "#报修 3号楼楼道灯不亮") for chat in chats]
        await bot.drain()
        elapsed = clock.monotonic() - started
        for chat, report in zip(chats, reports, strict=True):
            assert len(bot.replies(chat, report)) == 1  # each its own receipt, none combined
        assert errors(bot, 429) == 0
        paid = [c for c in bot.sim.calls[calls:] if c.parsed.get("allow_paid_broadcast")]
        assert len(paid) == budget.paid_sent - paid_before
        assert len(paid) == bot.sim.paid_messages - sim_paid_before
        assert len(paid) == 30, len(paid)  # the ones past the free 30 a second
        assert elapsed == 0  # nothing waited for the next free second


async def test_no_stars_left_falls_back_to_the_free_rate_and_loses_nothing(
    tmp_path: Path,
) -> None:
    clock = VirtualClock(autojump=True)
    sim = Simulator(clock=clock.monotonic, limits=RateLimits())
    budget = TelegramBudget(paid_per_second=1000, clock=clock)
    async with harness(tmp_path, sim=sim, budget=budget) as bot:
        resident = bot.sim.add_user("王阿姨")
        chats = await bot.bound_groups(40, resident)
        clock.advance(1.1)  # the welcomes' second has passed
        bot.sim.limits = RateLimits()
        bot.sim.star_balance = 0.0
        paid_before = bot.sim.paid_messages  # the welcomes, while the Stars lasted
        reports = [bot.sim.send_text(chat, resident, "#报修 3号楼楼道灯不亮") for chat in chats]
        await bot.drain()
        acknowledged = 0
        for chat, report in zip(chats, reports, strict=True):
            replies = bot.replies(chat, report)
            listed = [m for m in bot.sim.bot_messages(chat.id) if "条报事" in m.get("text", "")]
            assert len(replies) + len(listed) == 1, (replies, listed)  # once, never twice
            acknowledged += 1
        assert acknowledged == 40
        assert errors(bot, 400) >= 1  # Telegram refused to be paid
        assert bot.sim.paid_messages == paid_before
        assert runtime_of(bot.app).budget.paid_per_second == 0  # free rate only from now
        assert errors(bot, 429) == 0
        receipts = await bot.storage.outbox.items("receipt")
        assert len(receipts) == 40 and all(r.status == "sent" for r in receipts)
