"""Officers named by a deployment admin, per grid."""

from __future__ import annotations

from datetime import datetime

from storage.db import Conn, Database, to_db_time


class OfficerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def name(
        self, grid_id: int, user_id: int, name: str, *, by: int | None, now: datetime
    ) -> bool:
        """Make a user an officer of a grid; False if already one (the name is refreshed)."""
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT 1 FROM officers WHERE grid_id = ? AND user_id = ?", (grid_id, user_id)
            ) as cursor:
                existed = await cursor.fetchone() is not None
            await conn.execute(
                "INSERT INTO officers (grid_id, user_id, name, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (grid_id, user_id) DO UPDATE"
                " SET name = excluded.name",
                (grid_id, user_id, name, by, to_db_time(now)),
            )
        return not existed

    async def remove(self, grid_id: int, user_id: int) -> bool:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM officers WHERE grid_id = ? AND user_id = ?", (grid_id, user_id)
            )
        return cursor.rowcount > 0

    async def grids_of(self, user_id: int) -> set[int]:
        rows = await self._db.fetch_all(
            "SELECT grid_id FROM officers WHERE user_id = ?", (user_id,)
        )
        return {int(r[0]) for r in rows}

    async def is_officer(self, grid_id: int, user_id: int) -> bool:
        value = await self._db.fetch_value(
            "SELECT 1 FROM officers WHERE grid_id = ? AND user_id = ?", (grid_id, user_id)
        )
        return value is not None

    async def of_grid(self, grid_id: int) -> list[tuple[int, str]]:
        rows = await self._db.fetch_all(
            "SELECT user_id, name FROM officers WHERE grid_id = ? ORDER BY added_at", (grid_id,)
        )
        return [(int(r[0]), str(r[1])) for r in rows]


def officer_names_in(conn: Conn, grid_id: int) -> list[str]:
    """The grid's named officers, oldest first, inside the caller's transaction."""
    rows = conn.execute(
        "SELECT name FROM officers WHERE grid_id = ? ORDER BY added_at", (grid_id,)
    ).fetchall()
    return [str(r[0]) for r in rows]
