"""Notices the bot posts at most once per interval in a chat."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.db import Database, to_db_time


class NoticeRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, chat_id: int, kind: str, now: datetime, interval: timedelta) -> bool:
        """True, and remembered, if no notice of this kind went to this chat within ``interval``."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO chat_notices (chat_id, kind, sent_at) VALUES (?, ?, ?)"
                " ON CONFLICT (chat_id, kind) DO UPDATE SET sent_at = excluded.sent_at"
                " WHERE chat_notices.sent_at <= ?",
                (chat_id, kind, to_db_time(now), to_db_time(now - interval)),
            )
            return cursor.rowcount > 0
