"""Updates already handled: the durable record that makes a redelivered update a no-op.

Telegram hands an update out again when the process died before confirming it. The id is
recorded in the same transaction as the first change the update makes (see
:func:`storage.db.handling`), or on its own just before the first answer of a handler that
changed nothing (:meth:`HandledUpdates.record_in_hand`).
"""

from __future__ import annotations

from datetime import datetime

from storage.db import Database, to_db_time, unrecorded_scope


class HandledUpdates:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._found_above: int | None = None  # the highest id recorded before the first look

    async def seen(self, update_id: int) -> bool:
        """Whether this update was handled already (by this process or one before it).

        Telegram numbers updates in increasing order, so a new update is above every id
        recorded: the highest id in the table is read once, and after that only an update at
        or below the highest recorded (a redelivery) costs a read.
        """
        if self._found_above is None:
            self._found_above = int(
                await self._db.fetch_value(
                    "SELECT COALESCE(MAX(update_id), 0) FROM handled_updates"
                )
            )
        if update_id > max(self._found_above, self._db.handled_above):
            return False
        found = await self._db.fetch_value(
            "SELECT 1 FROM handled_updates WHERE update_id = ?", (update_id,)
        )
        return found is not None

    async def mark(self, update_id: int, at: datetime) -> None:
        """Record an update whose handler wrote nothing (it only answered)."""
        self._db.note_handled(update_id)
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO handled_updates (update_id, handled_at) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                (update_id, to_db_time(at)),
            )

    async def record_in_hand(self) -> None:
        """Record the update this task is handling, unless a change already did.

        Called before the first thing a handler shows a person: a reply is then never sent twice
        (a crash right after this write loses that one reply instead of repeating it).
        """
        scope = unrecorded_scope()
        if scope is not None:
            await self.mark(scope.update_id, scope.at)  # the transaction sets scope.recorded

    async def forget_before(self, moment: datetime) -> int:
        """Drop records Telegram can no longer redeliver (it keeps updates for 24 hours)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM handled_updates WHERE handled_at < ?", (to_db_time(moment),)
            )
            return cursor.rowcount
