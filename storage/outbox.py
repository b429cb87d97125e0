"""The outbox: messages the bot owes, written with the change that causes them, sent later."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite

from storage.db import Database, from_db_time, to_db_time


@dataclass(frozen=True)
class OutboxDraft:
    chat_id: int
    kind: str
    not_before: datetime
    text: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    ticket_id: int | None = None
    dedupe_key: str | None = None
    attachment: bytes | None = None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    kind: str
    text: str
    payload: dict[str, Any]
    attachment: bytes | None
    ticket_id: int | None
    dedupe_key: str | None
    created_at: datetime
    not_before: datetime
    attempts: int
    status: str
    message_id: int | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxItem:
        created = from_db_time(row["created_at"])
        not_before = from_db_time(row["not_before"])
        assert created is not None and not_before is not None
        return cls(
            id=row["id"],
            chat_id=row["chat_id"],
            kind=row["kind"],
            text=row["text"],
            payload=json.loads(row["payload"]),
            attachment=row["attachment"],
            ticket_id=row["ticket_id"],
            dedupe_key=row["dedupe_key"],
            created_at=created,
            not_before=not_before,
            attempts=row["attempts"],
            status=row["status"],
            message_id=row["message_id"],
        )


async def queue(conn: aiosqlite.Connection, draft: OutboxDraft, now: datetime) -> bool:
    """Add a message inside the caller's transaction; False if its dedupe key was queued before."""
    cursor = await conn.execute(
        "INSERT INTO outbox (chat_id, kind, text, payload, attachment, ticket_id, dedupe_key,"
        " created_at, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (dedupe_key) DO NOTHING",
        (
            draft.chat_id,
            draft.kind,
            draft.text,
            json.dumps(dict(draft.payload), ensure_ascii=False),
            draft.attachment,
            draft.ticket_id,
            draft.dedupe_key,
            to_db_time(now),
            to_db_time(draft.not_before),
        ),
    )
    return cursor.rowcount > 0


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, draft: OutboxDraft, now: datetime) -> bool:
        async with self._db.transaction() as conn:
            return await queue(conn, draft, now)

    async def add_many(self, drafts: Sequence[OutboxDraft], now: datetime) -> int:
        async with self._db.transaction() as conn:
            added = 0
            for draft in drafts:
                added += await queue(conn, draft, now)
            return added

    async def due(
        self, now: datetime, limit: int = 500, *, exclude: Sequence[int] = ()
    ) -> list[OutboxItem]:
        """Pending messages whose time has come, oldest first, attachments included; none of
        the chats in ``exclude`` (being sent to already)."""
        rows = await self._db.fetch_all(
            "SELECT o.* FROM outbox o WHERE o.status = 'pending' AND o.not_before <= ?"
            " AND o.chat_id NOT IN (SELECT value FROM json_each(?)) ORDER BY o.id LIMIT ?",
            (to_db_time(now), json.dumps(list(exclude)), limit),
        )
        return [OutboxItem.from_row(r) for r in rows]

    async def due_in_chat(self, chat_id: int, now: datetime, *, after: int) -> list[OutboxItem]:
        """Pending messages of one chat queued after row ``after`` whose time has come."""
        rows = await self._db.fetch_all(
            "SELECT o.* FROM outbox o WHERE o.chat_id = ? AND o.status = 'pending'"
            " AND o.id > ? AND o.not_before <= ? ORDER BY o.id",
            (chat_id, after, to_db_time(now)),
        )
        return [OutboxItem.from_row(r) for r in rows]

    async def next_due(self) -> datetime | None:
        value = await self._db.fetch_value(
            "SELECT MIN(not_before) FROM outbox WHERE status = 'pending'"
        )
        return from_db_time(value)

    async def mark_sent(
        self,
        ids: Sequence[int],
        message_id: int | None,
        now: datetime,
        *,
        receipt_of: Sequence[int] = (),
    ) -> None:
        """Sent; receipts' tickets learn the receipt's message id in the same transaction."""
        async with self._db.transaction() as conn:
            for item_id in ids:
                await conn.execute(
                    "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?,"
                    " attempts = attempts + 1 WHERE id = ?",
                    (to_db_time(now), message_id, item_id),
                )
            for ticket_id in receipt_of:
                await conn.execute(
                    "UPDATE tickets SET receipt_message_id = ? WHERE id = ?",
                    (message_id, ticket_id),
                )

    async def postpone(self, item_id: int, not_before: datetime, error: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET not_before = ?, attempts = attempts + 1, last_error = ?"
                " WHERE id = ? AND status = 'pending'",
                (to_db_time(not_before), error[:500], item_id),
            )

    async def postpone_chat(
        self, chat_id: int, failed: Sequence[int], not_before: datetime, error: str
    ) -> None:
        """A send failed: the failed rows count an attempt, and every pending row of the chat
        waits as long, so that nothing overtakes the message it follows."""
        stamp = to_db_time(not_before)
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET not_before = MAX(not_before, ?)"
                " WHERE chat_id = ? AND status = 'pending'",
                (stamp, chat_id),
            )
            for item_id in failed:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                    (error[:500], item_id),
                )

    async def retry_now(self, now: datetime) -> int:
        """After a restart, rows waiting out an earlier process's backoff are due at once."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET not_before = ? WHERE status = 'pending' AND attempts > 0"
                " AND not_before > ?",
                (to_db_time(now), to_db_time(now)),
            )
            return cursor.rowcount

    async def give_up(self, item_id: int, error: str, status: str = "failed") -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?"
                " WHERE id = ?",
                (status, error[:500], item_id),
            )

    async def retarget(self, old_chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: pending messages follow it."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status = 'pending'",
                (new_chat_id, old_chat_id),
            )

    async def drop_chat(self, chat_id: int, error: str) -> int:
        """The bot was removed or blocked: nothing more goes there; the chat is marked."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET status = 'dropped', last_error = ?"
                " WHERE chat_id = ? AND status = 'pending'",
                (error[:500], chat_id),
            )
            await conn.execute("UPDATE chats SET reachable = 0 WHERE chat_id = ?", (chat_id,))
            return cursor.rowcount

    async def by_message(self, chat_id: int, message_id: int) -> OutboxItem | None:
        row = await self._db.fetch_one(
            "SELECT * FROM outbox WHERE chat_id = ? AND message_id = ? AND status = 'sent'"
            " ORDER BY id DESC LIMIT 1",
            (chat_id, message_id),
        )
        return None if row is None else OutboxItem.from_row(row)

    async def sent_for(self, ticket_id: int, kind: str) -> int | None:
        """The message id of the last sent message of ``kind`` about a ticket."""
        value = await self._db.fetch_value(
            "SELECT message_id FROM outbox WHERE ticket_id = ? AND kind = ? AND status = 'sent'"
            " ORDER BY id DESC LIMIT 1",
            (ticket_id, kind),
        )
        return None if value is None else int(value)

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetch_all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}

    async def items(self, kind: str | None = None) -> list[OutboxItem]:
        """Every row (tests, `linlitong outbox`); newest last."""
        if kind is None:
            rows = await self._db.fetch_all("SELECT * FROM outbox ORDER BY id")
        else:
            rows = await self._db.fetch_all(
                "SELECT * FROM outbox WHERE kind = ? ORDER BY id", (kind,)
            )
        return [OutboxItem.from_row(r) for r in rows]
