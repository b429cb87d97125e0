"""The webhook inbox: updates kept before Telegram is answered, handled from here exactly once.

In webhook mode an update is written here (keyed by its ``update_id``) before its 200 goes back,
so an update Telegram counts as delivered is never lost, whichever instance received it and
whatever becomes of that instance. The instance that claims a chat
(:meth:`storage.db.Database.try_claim_chat`) handles the chat's waiting updates in ``update_id``
order and marks each one done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, to_db_time


@dataclass(frozen=True)
class InboxItem:
    """A waiting update: its id, its JSON as received, and whether it was handled already
    (its id is in ``handled_updates``: an instance handled it and stopped before marking it
    done)."""

    update_id: int
    body: str
    handled: bool


class InboxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def accept(self, update_id: int, chat_id: int, body: str, now: datetime) -> bool:
        """Keep an update; False when it is here already (Telegram posted it again)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO inbox (update_id, chat_id, body, received_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (update_id, chat_id, body, to_db_time(now)),
            )
            return cursor.rowcount > 0

    async def pending_chats(self, limit: int) -> list[int]:
        """Chats with updates waiting, the one waiting longest (lowest update id) first."""
        rows = await self._db.fetch_all(
            "SELECT chat_id FROM inbox WHERE done_at IS NULL"
            " GROUP BY chat_id ORDER BY MIN(update_id) LIMIT ?",
            (limit,),
        )
        return [int(row[0]) for row in rows]

    async def pending(self, chat_id: int, limit: int) -> list[InboxItem]:
        """A chat's waiting updates in ``update_id`` order, each with whether it was handled.

        Read by the instance holding the chat's claim: nobody else handles them meanwhile, so
        ``handled`` stays true until the item is handled or marked done.
        """
        rows = await self._db.fetch_all(
            "SELECT inbox.update_id, inbox.body,"
            " CASE WHEN handled_updates.update_id IS NULL THEN 0 ELSE 1 END"
            " FROM inbox LEFT JOIN handled_updates"
            " ON handled_updates.update_id = inbox.update_id"
            " WHERE inbox.chat_id = ? AND inbox.done_at IS NULL"
            " ORDER BY inbox.update_id LIMIT ?",
            (chat_id, limit),
        )
        return [InboxItem(int(row[0]), str(row[1]), row[2] == 1) for row in rows]

    async def done(self, update_id: int, now: datetime) -> bool:
        """Mark an update handled (or found handled); False if it was marked already."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE inbox SET done_at = ? WHERE update_id = ? AND done_at IS NULL",
                (to_db_time(now), update_id),
            )
            return cursor.rowcount > 0

    async def forget_before(self, moment: datetime) -> int:
        """Drop updates done before ``moment`` (Telegram redelivers none that old); waiting
        ones stay, whatever their age."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM inbox WHERE done_at < ?", (to_db_time(moment),)
            )
            return cursor.rowcount
