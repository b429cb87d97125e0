"""Several instances on one database: each outbox row sent once, Telegram's limits kept together.

A chat's outbox is sent by the one instance that claims it (a session advisory lock on
PostgreSQL), which reads the chat's rows after the claim; the flood budget's windows are booked
in the database, so two instances together send no more than one would. Two harness apps on one
PostgreSQL URL are two instances; the simulator and both budgets read one virtual clock.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from bot.clock import VirtualClock
from bot.context import runtime_of
from bot.ratelimit import DatabaseClock, TelegramBudget
from bot.simulator import Simulator
from bot.simulator.models import FaultPlan, SimChat
from storage import OutboxDraft, Storage
from storage.flood import FloodLedger
from tests.harness import Harness, harness
from tests.waiting import WAIT_S, eventually


@pytest.fixture
def pg_url(backend: str, database: Path | str) -> str:
    """A fresh PostgreSQL database: several instances on one SQLite file are not supported."""
    if backend != "postgresql":
        pytest.skip("several instances share a PostgreSQL database, not an SQLite file")
    assert isinstance(database, str)
    return database


@asynccontextmanager
async def instances(
    tmp_path: Path, url: str, sim: Simulator, *budgets: TelegramBudget | None
) -> AsyncIterator[list[Harness]]:
    """One harness app per budget on one database and one simulator: several instances."""
    async with AsyncExitStack() as stack:
        bots = [
            await stack.enter_async_context(
                harness(tmp_path / f"instance{n}", sim=sim, database=url, budget=budget)
            )
            for n, budget in enumerate(budgets)
        ]
        dbs = [runtime_of(bot.app).storage.db for bot in bots]
        for budget in budgets:
            if budget is not None and isinstance(budget.clock, VirtualClock):
                # no jump while any instance's statement runs in its database thread
                budget.clock.busy = lambda: any(db.busy() for db in dbs)
        yield bots


async def queue_notices(bot: Harness, chat: SimChat, texts: Sequence[str]) -> None:
    now = bot.clock.now()
    await bot.storage.outbox.add_many(
        [OutboxDraft(chat.id, "notice", now, text=t) for t in texts], now
    )


def texts_in(sim: Simulator, chat: SimChat, prefix: str) -> list[str]:
    return [
        str(m.get("text", ""))
        for m in sim.bot_messages(chat.id)
        if str(m.get("text", "")).startswith(prefix)
    ]


async def pending(bot: Harness) -> int:
    return sum(1 for item in await bot.storage.outbox.items() if item.status == "pending")


def most_in_any_window(stamps: Sequence[float], span: float) -> int:
    """The most of ``stamps`` inside any window of ``span`` seconds (Telegram's way to count)."""
    ordered = sorted(stamps)
    return max(
        (i + 1 - bisect.bisect_right(ordered, t - span) for i, t in enumerate(ordered)), default=0
    )


def sends(sim: Simulator, chat: SimChat | None = None) -> list[float]:
    """When each message the simulator accepted from the bot was sent, by its clock."""
    return [
        call.at
        for call in sim.calls
        if call.method == "sendMessage"
        and call.error is None
        and (chat is None or call.parsed.get("chat_id") == chat.id)
    ]


# -- one sender per chat --------------------------------------------------------------------


async def test_two_instances_draining_one_outbox_send_each_row_once_in_order(
    pg_url: str, tmp_path: Path
) -> None:
    sim = Simulator()
    async with instances(tmp_path, pg_url, sim, None, None) as (one, other):
        chats = [one.group(f"网格{n}") for n in range(30)]
        for n, chat in enumerate(chats):
            await queue_notices(one, chat, [f"g{n}-{k}" for k in range(4)])
        await asyncio.gather(one.flush(), other.flush())
        for n, chat in enumerate(chats):
            assert texts_in(sim, chat, f"g{n}-") == [f"g{n}-{k}" for k in range(4)]
        assert await pending(one) == 0


async def test_a_claimed_chat_waits_for_its_holder_and_a_dead_holder_lets_go(
    pg_url: str, tmp_path: Path
) -> None:
    clock = VirtualClock()  # moves when told: the holder sleeps on the budget holding its claim
    sim = Simulator(clock=clock.monotonic)
    budgets = [TelegramBudget(global_per_second=1, clock=clock) for _ in range(2)]
    async with instances(tmp_path, pg_url, sim, *budgets) as (holder, other):
        first, second = holder.group("一网格"), holder.group("二网格")
        await queue_notices(holder, first, ["a0"])
        await queue_notices(holder, second, ["b0", "b1"])
        flushing = asyncio.create_task(holder.flush())
        # a0 is out; the second chat, claimed, waits for the bot's next second
        await sim.wait_for(lambda: texts_in(sim, first, "a") and clock.sleeping == 1, WAIT_S)
        assert await other.flush() == 0  # its rows are due, but the chat is the holder's
        assert texts_in(sim, second, "b") == []
        assert not flushing.done()
        clock.autojump = True
        clock.advance(budgets[0].wait_time(None))
        await flushing
        assert await other.flush() == 0  # nothing left: nothing sent twice
        assert texts_in(sim, second, "b") == ["b0", "b1"]

        await queue_notices(holder, second, ["c0", "c1"])
        dying = await Storage.open(pg_url)  # an instance that claims the chat, then dies
        try:
            claimed = await dying.outbox.claim_due(holder.clock.now())
            assert [i.text for i in claimed.rows[second.id]] == ["c0", "c1"]
            assert await other.flush() == 0
            assert texts_in(sim, second, "c") == []
        finally:
            await dying.close()  # its session ends without letting go: PostgreSQL frees the lock

        async def sent() -> bool:  # the server ends the session a moment after the close
            return await other.flush() > 0

        assert await eventually(sent), "the dead instance's claim was never freed"
        assert texts_in(sim, second, "c") == ["c0", "c1"]


# -- Telegram's limits, for the bot ----------------------------------------------------------


async def test_two_instances_keep_a_groups_minute_and_the_bots_second_together(
    pg_url: str, tmp_path: Path
) -> None:
    clock = VirtualClock(autojump=True)
    sim = Simulator(clock=clock.monotonic)  # no limits of its own: only the budget keeps them
    budgets = [TelegramBudget(clock=clock) for _ in range(2)]
    async with instances(tmp_path, pg_url, sim, *budgets) as (one, other):
        busy = one.group("大群")
        early = [one.group(f"网格{n}") for n in range(40)]
        late = [one.group(f"小区{n}") for n in range(40)]
        await queue_notices(one, busy, [f"busy-{k}" for k in range(45)])
        for chat in early:
            await queue_notices(one, chat, [f"e{chat.id}"])
        await one.flush()  # the busy group's minute is spent; the last second holds ~30
        for chat in late:
            await queue_notices(one, chat, [f"l{chat.id}"])
        await other.flush()  # the same minute and second, from the other instance
        for _ in range(6):  # then both at once, a minute at a time
            await asyncio.gather(one.flush(), other.flush())
            if not await pending(one):
                break
            clock.advance(61)
        assert await pending(one) == 0
        assert texts_in(sim, busy, "busy-") == [f"busy-{k}" for k in range(45)]
        for chat in early:
            assert texts_in(sim, chat, "e") == [f"e{chat.id}"]
        for chat in late:
            assert texts_in(sim, chat, "l") == [f"l{chat.id}"]
        assert most_in_any_window(sends(sim, busy), 60.0) <= 20
        assert most_in_any_window(sends(sim), 1.0) <= 30
        assert {b.paid_sent for b in budgets} == {0}


async def test_replies_from_two_instances_share_a_groups_minute(
    pg_url: str, tmp_path: Path
) -> None:
    """Requests that do not come from the outbox (a handler's reply) are counted alike."""
    clock = VirtualClock(autojump=True)
    sim = Simulator(clock=clock.monotonic)
    budgets = [TelegramBudget(clock=clock) for _ in range(2)]
    async with instances(tmp_path, pg_url, sim, *budgets) as (one, other):
        chat = one.group("广场舞群")

        async def replies(bot: Harness, name: str) -> None:
            for k in range(15):
                await bot.app.bot.send_message(chat.id, f"{name}{k}")

        started = clock.monotonic()
        await asyncio.gather(replies(one, "a"), replies(other, "b"))
        assert len(texts_in(sim, chat, "")) == 30
        assert most_in_any_window(sends(sim, chat), 60.0) <= 20
        assert clock.monotonic() - started >= 60  # the last ten waited for the next minute


async def test_a_retry_after_holds_the_chat_for_every_instance(pg_url: str) -> None:
    clock = VirtualClock(1000.0)
    one, other = await Storage.open(pg_url), await Storage.open(pg_url)
    try:
        first, second = (TelegramBudget(clock=clock) for _ in range(2))
        await first.share(FloodLedger(one.db))
        await second.share(FloodLedger(other.db))
        await first.hold_off(-100, 30)  # Telegram told the first instance to wait 30 s
        verdict = await second.attempt(-100)
        assert not verdict.counted and verdict.chat_wait == pytest.approx(30, abs=0.01)
        assert second.blocked_for(-100) == pytest.approx(30, abs=0.01)
        assert (await second.attempt(-200)).counted  # other chats are not held
    finally:
        await one.close()
        await other.close()


async def test_the_shared_clock_is_the_database_servers(pg_url: str) -> None:
    local = VirtualClock(5.0)  # a machine whose clock says something else entirely
    clock = DatabaseClock(local)
    storage = await Storage.open(pg_url)
    try:
        await TelegramBudget(clock=clock).share(FloodLedger(storage.db))
    finally:
        await storage.close()
    assert clock.monotonic() == pytest.approx(time.time(), abs=1.0)  # the server runs here
    before = clock.monotonic()
    local.advance(2.0)
    assert clock.monotonic() - before == pytest.approx(2.0)


async def test_only_postgresql_shares_the_budget(
    backend: str, database: Path | str, tmp_path: Path
) -> None:
    """On SQLite (one process) the windows stay in memory: no database work per message."""
    async with harness(tmp_path, database=database) as bot:
        chat = bot.group("广场舞群")
        await bot.app.bot.send_message(chat.id, "你好")
        budget = runtime_of(bot.app).budget
        rows = await bot.storage.db.fetch_value("SELECT COUNT(*) FROM flood_sends")
        assert budget.shared is (backend == "postgresql")
        assert rows == (1 if backend == "postgresql" else 0)


async def test_a_network_error_postpones_the_chat_on_either_engine(bot: Harness) -> None:
    chat = bot.group("广场舞群")
    await queue_notices(bot, chat, ["n0", "n1"])
    bot.sim.faults = FaultPlan(error_5xx=1.0)
    assert await bot.flush() == 0
    items = await bot.storage.outbox.items("notice")
    assert [i.status for i in items] == ["pending", "pending"]
    assert all(i.not_before > bot.clock.now() for i in items)  # both wait: order is kept
    assert [i.attempts for i in items] == [1, 0]
