"""The webhook inbox: several instances on one database, a load balancer posting each update to
any of them. Every update is handled once, a chat's updates one at a time in update_id order,
and what an instance kept but did not handle is taken over by another.

Each instance is an in-process bot (tests.harness) on the same database and the same simulated
Telegram; updates reach an instance through its webhook ``deliver`` (what the webhook server
calls for a POST that carries the secret). On SQLite, two instances in one process share the
per-chat claims the way two PostgreSQL sessions do.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telegram import Update

from bot.app import handle_update, inbox_of, webhook_delivery
from bot.simulator import Simulator
from bot.simulator.models import SimChat, SimUser
from storage import Storage
from storage.vocabulary import EventKind
from tests.harness import Harness, harness
from tests.waiting import eventually

JSON = dict[str, Any]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def instance(
    tmp_path: Path, sim: Simulator, database: Path | str, **settings: Any
) -> AbstractAsyncContextManager[Harness]:
    """One more instance on ``database``, talking to the same Telegram (``sim``)."""
    return harness(tmp_path, sim=sim, database=database, **settings)


@dataclass
class Scene:
    sim: Simulator
    grid: SimChat
    officer: SimUser
    ticket_id: int


async def scene(first: Harness) -> Scene:
    """A bound grid, a chat administrator as its officer, and one ticket (set up by polling)."""
    sim = first.sim
    resident, officer = sim.add_user("王阿姨"), sim.add_user("刘网格员")
    grid = await first.grid("北瑞小区一网格", resident)
    sim.set_member(grid, officer, "administrator")
    _, ticket = await first.report(grid, resident, "#报修 3号楼2单元楼道灯不亮")
    return Scene(sim, grid, officer, ticket.id)


def typed(s: Scene, text: str) -> JSON:
    """The officer writes ``text`` in the grid: the update Telegram would post for it."""
    s.sim.send_text(s.grid, s.officer, text)
    return s.sim.update(max(s.sim.queue.history))


def progress(s: Scene, note: str) -> JSON:
    return typed(s, f"/progress {s.ticket_id} {note}")


def bot_said(s: Scene, text: str) -> list[JSON]:
    """The bot's messages in the grid that contain ``text``."""
    return [
        m
        for m in s.sim.messages(s.grid.id)
        if m.get("from", {}).get("is_bot") and text in m.get("text", "")
    ]


async def post(instance: Harness, update: JSON) -> None:
    """The load balancer hands ``update`` to ``instance``: its webhook keeps it and returns."""
    await webhook_delivery(instance.app)(update)


async def notes(storage: Storage, ticket_id: int) -> list[str]:
    """The ticket's progress notes, in the order they were written."""
    events = await storage.tickets.events(ticket_id)
    return [e.note for e in events if e.kind == EventKind.PROGRESS]


# -- the repository and the claims ----------------------------------------------------------


async def test_the_inbox_keeps_an_update_once_in_order_and_forgets_only_what_is_done(
    storage: Storage,
) -> None:
    inbox = storage.inbox
    assert await inbox.accept(12, -100, '{"update_id": 12}', NOW)
    assert not await inbox.accept(12, -100, '{"update_id": 12, "again": true}', NOW)
    assert await inbox.accept(10, -100, '{"update_id": 10}', NOW)
    assert await inbox.accept(11, 7, '{"update_id": 11}', NOW)
    assert await inbox.pending_chats(10) == [-100, 7]  # the one waiting longest first
    assert await inbox.pending_chats(1) == [-100]
    waiting = await inbox.pending(-100, 10)
    assert [(i.update_id, i.body, i.handled) for i in waiting] == [
        (10, '{"update_id": 10}', False),
        (12, '{"update_id": 12}', False),  # the first copy is kept
    ]
    await storage.updates.mark(12, NOW)  # handled by an instance that died before "done"
    assert [i.handled for i in await inbox.pending(-100, 10)] == [False, True]

    assert await inbox.done(10, NOW)
    assert not await inbox.done(10, NOW)
    assert [i.update_id for i in await inbox.pending(-100, 10)] == [12]
    assert await inbox.forget_before(NOW + timedelta(seconds=1)) == 1  # only 10, done
    assert await inbox.pending_chats(10) == [7, -100]  # 11 waits longer than 12 now
    assert await inbox.accept(10, -100, '{"update_id": 10}', NOW)  # forgotten: a new row


async def test_one_instance_claims_a_chat_at_a_time_until_it_lets_go_or_dies(
    database: Path | str,
) -> None:
    first = await Storage.open(database)
    second = await Storage.open(database)
    try:
        assert await first.db.try_claim_chat(-1001)
        assert not await first.db.try_claim_chat(-1001)  # no second claim from the holder
        assert not await second.db.try_claim_chat(-1001)
        assert await second.db.try_claim_chat(-1002)  # another chat is free
        await first.db.release_chat(-1001)  # once frees it
        assert await second.db.try_claim_chat(-1001)
        assert not await first.db.try_claim_chat(-1001)
    finally:
        await first.close()
        await second.close()  # dies holding two chats, without letting go of them
    third = await Storage.open(database)
    try:
        assert await eventually(lambda: third.db.try_claim_chat(-1001))
        assert await third.db.try_claim_chat(-1002)
    finally:
        await third.close()


# -- several instances ----------------------------------------------------------------------


async def test_an_update_posted_to_two_instances_at_once_is_handled_once(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    async with instance(tmp_path, sim, database) as one, instance(tmp_path, sim, database) as two:
        s = await scene(one)
        update = progress(s, "已联系电工")
        await asyncio.gather(post(one, update), post(two, update))
        await post(two, update)  # and once more, after the first copies were kept
        handled = await asyncio.gather(inbox_of(one.app).drain(), inbox_of(two.app).drain())
        assert sorted(handled) == [0, 1]
        assert await notes(one.storage, s.ticket_id) == ["已联系电工"]
        await one.flush()
        await two.flush()
        assert len(bot_said(s, "已联系电工")) == 1

        # a later tick forgets the row (as handled_updates): a copy now would be kept anew
        await one.tick(timedelta(hours=49))
        assert await one.storage.inbox.accept(update["update_id"], s.grid.id, "{}", NOW)


async def test_a_chats_updates_kept_out_of_order_by_two_instances_are_handled_in_order(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    async with instance(tmp_path, sim, database) as one, instance(tmp_path, sim, database) as two:
        s = await scene(one)
        first, second, third = (progress(s, f"第{n}条") for n in "一二三")
        # the balancer hands them out as they come: the third first, to the first instance
        await post(one, third)
        await post(two, first)
        await post(one, second)
        handled = await asyncio.gather(inbox_of(one.app).drain(), inbox_of(two.app).drain())
        assert sorted(handled) == [0, 3]  # one instance had the chat, the other waited
        assert await notes(two.storage, s.ticket_id) == ["第一条", "第二条", "第三条"]
        assert await one.storage.inbox.pending_chats(10) == []


async def test_what_an_instance_kept_and_did_not_handle_is_taken_over(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    async with instance(tmp_path, sim, database, inbox_poll=timedelta(milliseconds=20)) as stays:
        s = await scene(stays)
        worker = inbox_of(stays.app)
        try:
            async with instance(tmp_path, sim, database) as gone:
                await post(gone, progress(s, "第一条"))
                await post(gone, progress(s, "第二条"))
                assert await notes(gone.storage, s.ticket_id) == []  # kept, answered, not handled
                # its worker claimed the chat, and then the process died
                assert await gone.storage.db.try_claim_chat(s.grid.id)
                assert await worker.drain() == 0  # not while the chat is held
                worker.start()  # as in webhook mode
                assert await eventually(lambda: _true(worker.looks > 1))  # found it held
            # gone: its connection closed without handling or letting go of anything, and
            # nothing wakes the worker here: its INBOX_POLL finds the chat free

            async def taken_over() -> bool:
                return len(await notes(stays.storage, s.ticket_id)) >= 2

            assert await eventually(taken_over)
        finally:
            await worker.stop()
        assert await notes(stays.storage, s.ticket_id) == ["第一条", "第二条"]
        assert await stays.storage.inbox.pending_chats(10) == []


async def _true(value: bool) -> bool:
    return value


async def test_an_update_handled_but_not_marked_done_is_not_handled_again(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    async with instance(tmp_path, sim, database) as stays:
        s = await scene(stays)  # this instance has handled updates before
        async with instance(tmp_path, sim, database) as gone:
            update = progress(s, "已联系电工")
            await post(gone, update)
            # its worker handles it (the worker's first step); the process dies before the
            # second, marking it done
            await handle_update(gone.app, Update.de_json(update, gone.app.bot))
            later = progress(s, "明天上午来修")
            await post(gone, later)
        waiting = await stays.storage.inbox.pending(s.grid.id, 10)
        assert [i.update_id for i in waiting] == [update["update_id"], later["update_id"]]
        assert await inbox_of(stays.app).drain() == 2
        assert await notes(stays.storage, s.ticket_id) == ["已联系电工", "明天上午来修"]
        await stays.flush()
        assert len(bot_said(s, "已联系电工")) == 1
        assert await stays.storage.inbox.pending_chats(10) == []
