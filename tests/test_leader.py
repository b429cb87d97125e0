"""Several instances on one database: one leads the tick, one polls.

On PostgreSQL both are session advisory locks of an instance's one connection; on SQLite the
process that polls holds a lock file beside the database, and leads (SQLite serves one process).
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from bot.context import runtime_of
from bot.launcher import RUN_SCRIPT, start_bot, wait_webhook
from bot.schedule import Leadership, lead_and_tick
from bot.simulator import Simulator
from bot.texts import Texts
from storage import Storage
from tests.e2e import WEBHOOK_SECRET, free_port, grid_cast, reply_to, running
from tests.harness import harness
from tests.waiting import WAIT_S, eventually


@asynccontextmanager
async def opened(database: Path | str, count: int) -> AsyncIterator[list[Storage]]:
    """``count`` instances' worth of storage on one database, closed at the end."""
    async with AsyncExitStack() as stack:
        storages = []
        for _ in range(count):
            storage = await Storage.open(database)
            stack.push_async_callback(storage.close)
            storages.append(storage)
        yield storages


# -- the leader -------------------------------------------------------------------------------


async def test_one_instance_leads_and_asking_again_does_not_stack(
    backend: str, database: Path | str
) -> None:
    async with opened(database, 2) as (first, second):
        assert await first.db.try_lead()
        if backend == "sqlite":  # one process per SQLite database: it always leads
            assert await second.db.try_lead()
            return
        assert not await second.db.try_lead()
        for _ in range(3):  # the holder asks every tick: it stays leader, the lock taken once
            assert await first.db.try_lead()
        assert not await second.db.try_lead()
        await first.db.release_lead()  # once frees it
        assert not first.db.leading
        assert await second.db.try_lead()
        assert not await first.db.try_lead()


async def test_when_the_leader_dies_the_next_to_ask_leads(
    backend: str, database: Path | str
) -> None:
    async with opened(database, 1) as (standby,):
        leader = await Storage.open(database)
        try:
            assert await leader.db.try_lead()
            assert await standby.db.try_lead() is (backend == "sqlite")
        finally:
            await leader.close()  # its session ends: no release
        assert await eventually(standby.db.try_lead)


async def test_only_the_leader_ticks_and_a_due_reminder_goes_once(
    backend: str, database: Path | str, tmp_path: Path
) -> None:
    """Two instances' apps on one database, both ticking at the same moment."""
    sim = Simulator()
    async with (
        harness(tmp_path / "a", sim=sim, database=database) as one,
        harness(tmp_path / "b", sim=sim, database=database) as other,
    ):
        resident = sim.add_user("王阿姨")
        grid = await one.grid("北瑞小区一网格", resident)
        _, ticket = await one.report(grid, resident, "#报修 3号楼楼道灯不亮")
        for bot in (one, other):
            bot.clock.advance(timedelta(hours=3))  # past the response deadline
        reports = await asyncio.gather(
            lead_and_tick(runtime_of(one.app), Leadership()),
            lead_and_tick(runtime_of(other.app), Leadership()),
        )
        await one.flush()
        await other.flush()
        reminders = [m for m in sim.bot_messages(grid.id) if "已超过响应时限" in m.get("text", "")]
        assert len(reminders) == 1
        ran = [r for r in reports if r is not None]
        assert sum(r.reminders for r in ran) == 1
        if backend == "postgresql":
            assert len(ran) == 1  # the other instance did nothing but ask to lead
        kinds = [e.kind for e in await one.storage.tickets.events(ticket.id)]
        assert kinds.count("reminded") == 1


async def test_leading_is_told_to_the_log_when_it_changes(
    backend: str, database: Path | str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="bot.schedule")
    async with harness(tmp_path, database=database) as bot:
        leadership = Leadership()
        for _ in range(3):
            assert await lead_and_tick(runtime_of(bot.app), leadership) is not None
        assert sum("this instance leads" in r.getMessage() for r in caplog.records) == 1
    assert sum("no longer leads" in r.getMessage() for r in caplog.records) == 1


# -- the poller -------------------------------------------------------------------------------


async def test_a_second_poller_is_refused_until_the_first_lets_go(
    backend: str, database: Path | str
) -> None:
    async with opened(database, 2) as (first, second):
        assert await first.db.claim_poller()
        assert not await second.db.claim_poller()
        assert await first.db.claim_poller()  # its own lock: still its own, taken once
        assert not await second.db.claim_poller(wait=0.3)  # asked again, then refused
        waiting = asyncio.create_task(second.db.claim_poller(wait=WAIT_S))
        await first.db.release_poller()  # once frees it
        assert await asyncio.wait_for(waiting, WAIT_S)
        assert not await first.db.claim_poller()
        await second.db.release_poller()
    if backend == "sqlite":
        assert isinstance(database, Path)
        lock = Path(f"{database}.poller.lock")
        assert stat.S_IMODE((await asyncio.to_thread(lock.stat)).st_mode) == 0o600


@pytest.mark.e2e
async def test_a_second_run_on_the_same_database_refuses_in_one_line(
    backend: str, database: Path | str, tmp_path: Path
) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    env = {"DATABASE_URL": database} if isinstance(database, str) else {}
    name = "live.db" if isinstance(database, str) else database.name
    folder = tmp_path if isinstance(database, str) else database.parent
    async with running(sim, folder, admin=cast.admin, database=name, settings=env) as live:
        async with opened(database, 1) as (storage,):
            db_name, lock = storage.db.name, storage.db.poller_lock
        calls = [len(sim.calls_to(m)) for m in ("getMe", "deleteWebhook", "setMyCommands")]
        second = await start_bot(
            base_url=live.server.base_url,
            token=sim.token,
            database_path=folder / name,
            cwd=folder,
            log_path=tmp_path / "second.log",
            extra_env={"LOG_LEVEL": "WARNING", **env},
            command=RUN_SCRIPT,
        )
        try:
            code = await second.wait(timeout=60)
        finally:
            await second.stop()
        assert code == 1, second.log()
        texts = Texts("zh")
        if backend == "postgresql":
            line = texts("cli.another_poller_postgresql", database=db_name, key=lock)
        else:
            line = texts("cli.another_poller_sqlite", database=db_name, lock=lock)
        assert second.log().strip().splitlines() == [f"linlitong: {line}"]
        # refused before it called Telegram at all
        assert [len(sim.calls_to(m)) for m in ("getMe", "deleteWebhook", "setMyCommands")] == calls

        # the first one polls on
        assert live.bot.returncode is None
        hello = sim.send_text(cast.grid, cast.resident, "/help")
        assert (await reply_to(sim, cast.grid, hello["message_id"], within=30))["text"]
        assert await live.bot.stop() == 0


@pytest.mark.e2e
async def test_webhook_instances_take_no_poller_lock(
    backend: str, database: Path | str, tmp_path: Path
) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    env = {"DATABASE_URL": database} if isinstance(database, str) else {}
    name = "live.db" if isinstance(database, str) else database.name
    folder = tmp_path if isinstance(database, str) else database.parent
    async with running(
        sim, folder, admin=cast.admin, database=name, settings=env, webhook=True
    ) as live:
        listen = f"127.0.0.1:{free_port()}"
        second = await start_bot(
            base_url=live.server.base_url,
            token=sim.token,
            database_path=folder / name,
            cwd=folder,
            log_path=tmp_path / "second.log",
            extra_env={
                "WEBHOOK_URL": f"http://{listen}/telegram",
                "WEBHOOK_SECRET": WEBHOOK_SECRET,
                "WEBHOOK_LISTEN": listen,
                **env,
            },
            command=(*RUN_SCRIPT, "--webhook"),
        )
        try:
            await wait_webhook(sim, second, after=1)  # up beside the first one
            hello = sim.send_text(cast.grid, cast.resident, "/help")
            assert (await reply_to(sim, cast.grid, hello["message_id"], within=30))["text"]
            assert live.bot.returncode is None
        finally:
            assert await second.stop() == 0, second.log()
        assert await live.bot.stop() == 0
