"""Storage on real aiosqlite through the real migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from storage import (
    GridTakenError,
    MediaItem,
    NewTicket,
    SchemaTooNewError,
    Storage,
    Ticket,
    TicketChange,
)
from storage.db import Conn, Migration, load_migrations, open_database, split_statements
from storage.outbox import OutboxDraft, queue_in

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def draft(message_id: int = 10, **changes: object) -> NewTicket:
    values: dict[str, object] = {
        "grid_id": 1,
        "chat_id": -100,
        "message_id": message_id,
        "category": "repair",
        "text": "#报修 3号楼2单元楼道灯不亮",
        "body": "3号楼2单元楼道灯不亮",
        "reporter_id": 7,
        "reporter_name": "王阿姨",
        "created_at": NOW,
        "response_due": NOW + timedelta(hours=2),
        "resolution_due": NOW + timedelta(days=3),
        "building": "3",
        "unit": "2",
    }
    values.update(changes)
    return NewTicket(**values)  # type: ignore[arg-type]


async def bind(storage: Storage, chat_id: int = -100, grid: str = "一网格") -> None:
    await storage.grids.bind_grid(
        chat_id=chat_id,
        title="群",
        grid=grid,
        community="通顺社区",
        street="交通街道",
        by=1,
        now=NOW,
    )


async def test_migrations_are_numbered_and_recorded(tmp_path: Path) -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    db = await open_database(tmp_path / "m.db")
    try:
        assert await db.schema_version() == len(migrations)
        rows = await db.fetch_all("SELECT version, description FROM schema_migrations")
        assert [r[0] for r in rows] == [m.version for m in migrations]
        assert all(r[1] for r in rows)
        assert await db.migrate() == []  # a second run applies nothing
        assert await db.fetch_value("PRAGMA journal_mode") == "wal"
        assert await db.fetch_value("PRAGMA foreign_keys") == 1
        assert await db.fetch_value("PRAGMA busy_timeout") == 5000
    finally:
        await db.close()


async def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "new.db")
    await db.migrate([*load_migrations(), Migration(99, "from the future", "SELECT 1;")])
    await db.close()
    with pytest.raises(SchemaTooNewError, match="schema version 99"):
        await open_database(tmp_path / "new.db")


async def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "fail.db")
    broken = Migration(len(load_migrations()) + 1, "broken", "CREATE TABLE half (x);\nNOT SQL;")
    with pytest.raises(sqlite3.OperationalError):
        await db.migrate([*load_migrations(), broken])
    assert await db.schema_version() == len(load_migrations())
    assert await db.fetch_value("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'") == 0
    await db.close()


def test_split_statements_keeps_triggers_whole() -> None:
    script = (
        "-- c\nCREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n SELECT 1;\nEND;\n"
    )
    assert len(split_statements(script)) == 2


async def test_open_is_idempotent_per_message(storage: Storage) -> None:
    await bind(storage)
    first, created = await storage.tickets.open(draft())
    again, created_again = await storage.tickets.open(draft(body="other"))
    assert created and not created_again
    assert again.id == first.id and again.body == "3号楼2单元楼道灯不亮"
    assert await storage.tickets.count() == 1
    events = await storage.tickets.events(first.id)
    assert [(e.kind, e.to_status) for e in events] == [("opened", "new")]


async def test_what_a_new_ticket_owes_is_in_its_own_transaction(storage: Storage) -> None:
    """``then`` (storage.tickets.OnOpened) runs inside the opening transaction, for a new ticket
    only: what it queues commits with the ticket, and its failure leaves no ticket behind."""
    await bind(storage)
    seen: list[int] = []

    def then(conn: Conn, ticket: Ticket) -> None:
        seen.append(ticket.id)
        queue_in(
            conn,
            OutboxDraft(-100, "answer", NOW, text="自动", dedupe_key=f"auto:{ticket.id}"),
            NOW,
        )

    ticket, created = await storage.tickets.open(draft(), receipt=True, then=then)
    again, created_again = await storage.tickets.open(draft(), receipt=True, then=then)
    assert created and not created_again and again.id == ticket.id
    assert seen == [ticket.id]  # a replay of the message owes nothing again
    assert [i.kind for i in await storage.outbox.due(NOW)] == ["receipt", "answer"]

    def failing(conn: Conn, ticket: Ticket) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await storage.tickets.open(draft(message_id=2), receipt=True, then=failing)
    assert await storage.tickets.count() == 1
    assert len(await storage.outbox.due(NOW)) == 2


async def test_times_are_stored_utc_and_come_back_aware(storage: Storage) -> None:
    await bind(storage)
    shanghai = NOW.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    ticket, _ = await storage.tickets.open(draft(created_at=shanghai))
    assert ticket.created_at == NOW and ticket.created_at.tzinfo is not None
    raw = await storage.db.fetch_value("SELECT created_at FROM tickets WHERE id = ?", (ticket.id,))
    assert raw.endswith("+00:00")


async def test_album_items_before_and_after_the_tagged_one(storage: Storage) -> None:
    await bind(storage)
    early = MediaItem(20, "photo", "f20", "u20")
    assert (
        await storage.tickets.add_album_item(-100, "g1", early, actor_id=7, actor_name="", now=NOW)
        is None
    )
    ticket, _ = await storage.tickets.open(
        draft(message_id=21, media_group_id="g1", media=(MediaItem(21, "photo", "f21", "u21"),))
    )
    late = MediaItem(22, "photo", "f22", "u22")
    attached = await storage.tickets.add_album_item(
        -100, "g1", late, actor_id=7, actor_name="", now=NOW
    )
    assert attached is not None and attached.id == ticket.id
    again = await storage.tickets.add_album_item(
        -100, "g1", late, actor_id=7, actor_name="", now=NOW
    )
    assert again is not None
    media = await storage.tickets.media(ticket.id)
    assert [m.file_id for m in media] == ["f20", "f21", "f22"]
    assert await storage.db.fetch_value("SELECT COUNT(*) FROM album_parts") == 0
    kinds = [e.kind for e in await storage.tickets.events(ticket.id)]
    assert kinds == ["opened", "media_added"]


async def test_edit_only_while_new_and_with_an_event(storage: Storage) -> None:
    await bind(storage)
    ticket, _ = await storage.tickets.open(draft())
    change = TicketChange(
        category="water",
        labels=(),
        text="#漏水 5号楼",
        body="5号楼",
        estate=None,
        building="5",
        unit=None,
        room=None,
        response_due=NOW,
        resolution_due=NOW,
    )
    edited = await storage.tickets.apply_edit(
        ticket.id, change, actor_id=7, actor_name="王", now=NOW
    )
    assert edited is not None and edited.category == "water" and edited.building == "5"
    assert (
        await storage.tickets.apply_edit(ticket.id, change, actor_id=7, actor_name="王", now=NOW)
        is None
    )
    await storage.db.fetch_all("UPDATE tickets SET status = 'accepted' WHERE id = ?", (ticket.id,))
    other = TicketChange(**{**change.__dict__, "text": "changed again"})
    assert (
        await storage.tickets.apply_edit(ticket.id, other, actor_id=7, actor_name="王", now=NOW)
        is None
    )
    assert [e.kind for e in await storage.tickets.events(ticket.id)] == ["opened", "edited"]


async def test_bind_rebind_unbind_and_grid_taken(storage: Storage) -> None:
    await bind(storage, -100, "一网格")
    binding = await storage.grids.active_binding(-100)
    assert binding is not None
    assert (binding.grid_name, binding.community_name, binding.street_name) == (
        "一网格",
        "通顺社区",
        "交通街道",
    )
    with pytest.raises(GridTakenError):
        await bind(storage, -200, "一网格")
    await bind(storage, -100, "二网格")  # rebinding updates
    rebound = await storage.grids.active_binding(-100)
    assert rebound is not None and rebound.grid_name == "二网格"
    await bind(storage, -200, "一网格")  # now free
    assert await storage.grids.unbind(-100, NOW) is not None
    assert await storage.grids.active_binding(-100) is None
    assert await storage.grids.unbind(-100, NOW) is None
    assert [b.chat_id for b in await storage.grids.bindings()] == [-200]


async def test_supervisor_binds_to_community_or_street(storage: Storage) -> None:
    await bind(storage)
    community = await storage.grids.bind_supervisor(
        chat_id=-300, title="督办", name="通顺社区", by=1, now=NOW
    )
    assert community.kind == "supervisor" and community.community_name == "通顺社区"
    street = await storage.grids.bind_supervisor(
        chat_id=-400, title="街道", name="交通街道", by=1, now=NOW
    )
    assert street.community_id is None and street.street_name == "交通街道"


async def test_migrating_a_chat_moves_binding_and_tickets(storage: Storage) -> None:
    await bind(storage, -100)
    ticket, _ = await storage.tickets.open(draft())
    assert await storage.grids.migrate_chat(-100, -1001, NOW)
    assert not await storage.grids.migrate_chat(-100, -1001, NOW)  # the second service message
    assert await storage.grids.active_binding(-1001) is not None
    moved = await storage.tickets.get(ticket.id)
    assert moved is not None and moved.chat_id == -1001


async def test_notice_claimed_once_per_interval(storage: Storage) -> None:
    day = timedelta(days=1)
    assert await storage.notices.claim(-5, "hint", NOW, day)
    assert not await storage.notices.claim(-5, "hint", NOW + timedelta(hours=23), day)
    assert await storage.notices.claim(-6, "hint", NOW, day)
    assert await storage.notices.claim(-5, "hint", NOW + day, day)


@pytest.mark.sqlite_only
async def test_backup_and_integrity_check(storage: Storage, tmp_path: Path) -> None:
    await bind(storage)
    await storage.tickets.open(draft())
    await storage.db.backup_to(tmp_path / "b" / "copy.db")
    copy = await Storage.open(tmp_path / "b" / "copy.db", migrate=False)
    try:
        assert await copy.tickets.count() == 1
        assert await copy.db.integrity_check() == []
    finally:
        await copy.close()


async def test_marks_sent_together_share_one_transaction(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drains of many chats finish their sends together: their marks go in one trip to the
    engine's thread, each receipt's message id kept on its ticket."""
    await bind(storage)
    for n in range(10):
        await storage.tickets.open(draft(10 + n), receipt=True)
    due = await storage.outbox.due(NOW)
    assert len(due) == 10
    trips = 0
    run = storage.db.run

    async def counted(work: Any) -> Any:
        nonlocal trips
        trips += 1
        return await run(work)

    monkeypatch.setattr(storage.db, "run", counted)
    await asyncio.gather(
        *(
            storage.outbox.mark_sent([item.id], 500 + n, NOW, receipt_of=[item.ticket_id or 0])
            for n, item in enumerate(due)
        )
    )
    assert trips == 1
    monkeypatch.setattr(storage.db, "run", run)
    assert await storage.outbox.due(NOW) == []
    for n, item in enumerate(due):
        ticket = await storage.tickets.get(item.ticket_id or 0)
        assert ticket is not None and ticket.receipt_message_id == 500 + n
    # one more, alone, after them: written on its own
    await storage.tickets.open(draft(99), receipt=True)
    (last,) = await storage.outbox.due(NOW)
    await storage.outbox.mark_sent([last.id], 600, NOW, receipt_of=[last.ticket_id or 0])
    assert await storage.outbox.due(NOW) == []


async def test_a_mark_that_cannot_be_written_fails_its_sender(database: Path | str) -> None:
    """A mark whose trip fails raises in the drain that waits for it (which keeps the row
    pending, to be sent again): no mark waits for ever."""
    storage = await Storage.open(database)
    await bind(storage)
    await storage.tickets.open(draft(), receipt=True)
    (item,) = await storage.outbox.due(NOW)
    await storage.db.close()
    # (aiosqlite: "no active connection"; PostgreSQL's thread: no new work after shutdown)
    with pytest.raises((ValueError, RuntimeError)):
        await asyncio.wait_for(storage.outbox.mark_sent([item.id], 500, NOW), timeout=60)


async def test_a_stopped_drain_returns_only_once_its_mark_is_written(storage: Storage) -> None:
    """A stopping sender cancels its drains: one waiting for its mark still gets it written
    before it lets go of its chat (another instance would read the row as pending)."""
    await bind(storage)
    for n in range(2):
        await storage.tickets.open(draft(10 + n), receipt=True)
    first, second = await storage.outbox.due(NOW)

    async def stopped_while_waiting() -> None:
        # the cancel comes on the loop's next turn: the mark is queued by then (mark_sent
        # queues it before its first wait)
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_soon(task.cancel)
        await storage.outbox.mark_sent([second.id], 501, NOW)

    kept = asyncio.create_task(storage.outbox.mark_sent([first.id], 500, NOW))
    stopped = asyncio.create_task(stopped_while_waiting())
    with pytest.raises(asyncio.CancelledError):
        await stopped
    assert await storage.outbox.due(NOW) == []  # both written when the cancelled one returned
    await kept
