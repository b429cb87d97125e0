"""Tickets, their files and their history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.db import Database, to_db_time
from storage.models import MediaItem, NewTicket, Ticket, TicketEvent


@dataclass(frozen=True)
class TicketChange:
    """New content for a ticket whose resident edited the message."""

    category: str
    labels: tuple[str, ...]
    text: str
    body: str
    estate: str | None
    building: str | None
    unit: str | None
    room: str | None
    response_due: datetime
    resolution_due: datetime


class TicketRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(self, draft: NewTicket) -> tuple[Ticket, bool]:
        """Insert with its opening event; ``(existing, False)`` if the message has a ticket."""
        stamp = to_db_time(draft.created_at)
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO tickets (grid_id, chat_id, message_id, thread_id, media_group_id,"
                " source, category, labels, text, body, estate, building, unit, room,"
                " reporter_id, reporter_name, status, created_at, updated_at, response_due,"
                " resolution_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new',"
                " ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO NOTHING",
                (
                    draft.grid_id,
                    draft.chat_id,
                    draft.message_id,
                    draft.thread_id,
                    draft.media_group_id,
                    draft.source,
                    draft.category,
                    json.dumps(list(draft.labels), ensure_ascii=False),
                    draft.text,
                    draft.body,
                    draft.estate,
                    draft.building,
                    draft.unit,
                    draft.room,
                    draft.reporter_id,
                    draft.reporter_name,
                    stamp,
                    stamp,
                    to_db_time(draft.response_due),
                    to_db_time(draft.resolution_due),
                ),
            )
            if cursor.rowcount == 0:
                existing = await _by_message(conn, draft.chat_id, draft.message_id)
                assert existing is not None
                return existing, False
            ticket_id = cursor.lastrowid
            assert ticket_id is not None
            await _event(
                conn,
                ticket_id,
                draft.created_at,
                draft.reporter_id,
                draft.reporter_name,
                "opened",
                None,
                "new",
                draft.source,
            )
            await _insert_media(conn, ticket_id, draft.chat_id, draft.media, stamp)
            if draft.media_group_id is not None:
                await _adopt_album_parts(conn, ticket_id, draft.chat_id, draft.media_group_id)
            ticket = await _by_id(conn, ticket_id)
        assert ticket is not None
        return ticket, True

    async def get(self, ticket_id: int) -> Ticket | None:
        row = await self._db.fetch_one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        return None if row is None else Ticket.from_row(row)

    async def by_message(self, chat_id: int, message_id: int) -> Ticket | None:
        row = await self._db.fetch_one(
            "SELECT * FROM tickets WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
        )
        return None if row is None else Ticket.from_row(row)

    async def set_receipt(self, ticket_id: int, message_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE tickets SET receipt_message_id = ? WHERE id = ?", (message_id, ticket_id)
            )

    async def apply_edit(
        self,
        ticket_id: int,
        change: TicketChange,
        *,
        actor_id: int | None,
        actor_name: str,
        now: datetime,
    ) -> Ticket | None:
        """Take the resident's edited text while the ticket is still new; ``None`` otherwise."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE tickets SET category = ?, labels = ?, text = ?, body = ?, estate = ?,"
                " building = ?, unit = ?, room = ?, response_due = ?, resolution_due = ?,"
                " updated_at = ? WHERE id = ? AND status = 'new' AND text <> ?",
                (
                    change.category,
                    json.dumps(list(change.labels), ensure_ascii=False),
                    change.text,
                    change.body,
                    change.estate,
                    change.building,
                    change.unit,
                    change.room,
                    to_db_time(change.response_due),
                    to_db_time(change.resolution_due),
                    to_db_time(now),
                    ticket_id,
                    change.text,
                ),
            )
            if cursor.rowcount == 0:
                return None
            await _event(conn, ticket_id, now, actor_id, actor_name, "edited", "new", "new", "")
            return await _by_id(conn, ticket_id)

    async def add_media(
        self,
        ticket_id: int,
        chat_id: int,
        items: Sequence[MediaItem],
        *,
        actor_id: int | None,
        actor_name: str,
        now: datetime,
    ) -> int:
        """Attach files to a ticket (a later album item); returns how many were new."""
        async with self._db.transaction() as conn:
            added = await _insert_media(conn, ticket_id, chat_id, items, to_db_time(now))
            if added:
                await _event(
                    conn,
                    ticket_id,
                    now,
                    actor_id,
                    actor_name,
                    "media_added",
                    None,
                    None,
                    str(added),
                )
        return added

    async def add_album_item(
        self,
        chat_id: int,
        media_group_id: str,
        item: MediaItem,
        *,
        actor_id: int | None,
        actor_name: str,
        now: datetime,
    ) -> Ticket | None:
        """Attach an album item to the album's ticket, or keep it until the tagged item comes.

        Telegram sends an album as separate messages with no end marker and the caption on any
        one of them, so items may arrive before the ticket exists. One transaction decides.
        """
        stamp = to_db_time(now)
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT id FROM tickets WHERE chat_id = ? AND media_group_id = ?"
                " ORDER BY id LIMIT 1",
                (chat_id, media_group_id),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                await conn.execute(
                    "INSERT INTO album_parts (chat_id, message_id, media_group_id, kind, file_id,"
                    " file_unique_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (chat_id, message_id) DO NOTHING",
                    (
                        chat_id,
                        item.message_id,
                        media_group_id,
                        item.kind,
                        item.file_id,
                        item.file_unique_id,
                        stamp,
                    ),
                )
                return None
            ticket_id = int(row[0])
            if await _insert_media(conn, ticket_id, chat_id, (item,), stamp):
                await _event(
                    conn, ticket_id, now, actor_id, actor_name, "media_added", None, None, "1"
                )
            return await _by_id(conn, ticket_id)

    async def forget_album_parts(self, before: datetime) -> int:
        """Drop stashed album items of albums that never carried a tag."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM album_parts WHERE received_at < ?", (to_db_time(before),)
            )
            return cursor.rowcount

    async def media(self, ticket_id: int) -> list[MediaItem]:
        rows = await self._db.fetch_all(
            "SELECT message_id, kind, file_id, file_unique_id FROM ticket_media"
            " WHERE ticket_id = ? ORDER BY message_id, id",
            (ticket_id,),
        )
        return [MediaItem(r[0], r[1], r[2], r[3]) for r in rows]

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        rows = await self._db.fetch_all(
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        )
        return [TicketEvent.from_row(r) for r in rows]

    async def recent(self, limit: int = 50) -> list[Ticket]:
        rows = await self._db.fetch_all("SELECT * FROM tickets ORDER BY id DESC LIMIT ?", (limit,))
        return [Ticket.from_row(r) for r in rows]

    async def count(self) -> int:
        return int(await self._db.fetch_value("SELECT COUNT(*) FROM tickets"))


async def _by_id(conn: aiosqlite.Connection, ticket_id: int) -> Ticket | None:
    async with conn.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else Ticket.from_row(row)


async def _by_message(conn: aiosqlite.Connection, chat_id: int, message_id: int) -> Ticket | None:
    async with conn.execute(
        "SELECT * FROM tickets WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else Ticket.from_row(row)


async def _event(
    conn: aiosqlite.Connection,
    ticket_id: int,
    at: datetime,
    actor_id: int | None,
    actor_name: str,
    kind: str,
    from_status: str | None,
    to_status: str | None,
    note: str,
) -> None:
    await conn.execute(
        "INSERT INTO ticket_events (ticket_id, at, actor_id, actor_name, kind, from_status,"
        " to_status, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, to_db_time(at), actor_id, actor_name, kind, from_status, to_status, note),
    )


async def _insert_media(
    conn: aiosqlite.Connection,
    ticket_id: int,
    chat_id: int,
    items: Sequence[MediaItem],
    stamp: str,
) -> int:
    added = 0
    for item in items:
        cursor = await conn.execute(
            "INSERT INTO ticket_media (ticket_id, chat_id, message_id, kind, file_id,"
            " file_unique_id, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, message_id) DO NOTHING",
            (
                ticket_id,
                chat_id,
                item.message_id,
                item.kind,
                item.file_id,
                item.file_unique_id,
                stamp,
            ),
        )
        added += cursor.rowcount
    return added


async def _adopt_album_parts(
    conn: aiosqlite.Connection, ticket_id: int, chat_id: int, media_group_id: str
) -> None:
    await conn.execute(
        "INSERT INTO ticket_media (ticket_id, chat_id, message_id, kind, file_id, file_unique_id,"
        " added_at) SELECT ?, chat_id, message_id, kind, file_id, file_unique_id, received_at"
        " FROM album_parts WHERE chat_id = ? AND media_group_id = ?"
        " ON CONFLICT (chat_id, message_id) DO NOTHING",
        (ticket_id, chat_id, media_group_id),
    )
    await conn.execute(
        "DELETE FROM album_parts WHERE chat_id = ? AND media_group_id = ?",
        (chat_id, media_group_id),
    )
