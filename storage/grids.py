"""Streets, communities, grids and the group chats bound to them."""

from __future__ import annotations

import json
from datetime import datetime

from storage.db import AsyncConn, Conn, Database, to_db_time
from storage.models import ChatBinding, GridInfo
from storage.outbox import OutboxDraft, queue

_BINDING_SELECT = """
SELECT c.chat_id, c.title, c.kind, c.active, c.bound_at,
       c.grid_id, g.name AS grid_name,
       COALESCE(c.community_id, g.community_id) AS community_id, m.name AS community_name,
       COALESCE(c.street_id, m.street_id) AS street_id, s.name AS street_name
FROM chats c
LEFT JOIN grids g ON g.id = c.grid_id
LEFT JOIN communities m ON m.id = COALESCE(c.community_id, g.community_id)
LEFT JOIN streets s ON s.id = COALESCE(c.street_id, m.street_id)
"""


_GRID_SELECT = """
SELECT g.id, g.name, g.community_id, m.name AS community_name, m.street_id, s.name AS street_name,
       (SELECT c.chat_id FROM chats c WHERE c.grid_id = g.id AND c.active = 1 AND c.kind = 'grid')
       AS chat_id
FROM grids g
JOIN communities m ON m.id = g.community_id
LEFT JOIN streets s ON s.id = m.street_id
"""


class GridTakenError(Exception):
    """The grid is already bound to another active group."""

    def __init__(self, other: ChatBinding) -> None:
        super().__init__(f"grid already bound to chat {other.chat_id}")
        self.other = other


class UnknownUnitError(LookupError):
    """No community or street has that name."""


class GridRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def binding(self, chat_id: int) -> ChatBinding | None:
        row = await self._db.fetch_one(_BINDING_SELECT + " WHERE c.chat_id = ?", (chat_id,))
        return None if row is None else ChatBinding.from_row(row)

    async def active_binding(self, chat_id: int) -> ChatBinding | None:
        return await self._db.run(lambda conn: active_binding_in(conn, chat_id))

    async def bindings(self, *, include_inactive: bool = False) -> list[ChatBinding]:
        where = "" if include_inactive else " WHERE c.active = 1"
        rows = await self._db.fetch_all(
            _BINDING_SELECT + where + " ORDER BY c.kind DESC, community_name, grid_name, c.chat_id"
        )
        return [ChatBinding.from_row(r) for r in rows]

    async def grid(self, grid_id: int) -> GridInfo | None:
        row = await self._db.fetch_one(_GRID_SELECT + " WHERE g.id = ?", (grid_id,))
        return None if row is None else GridInfo.from_row(row)

    async def grids(self) -> list[GridInfo]:
        rows = await self._db.fetch_all(_GRID_SELECT + " ORDER BY m.name, g.name")
        return [GridInfo.from_row(r) for r in rows]

    async def supervisor_chats(self, community_id: int, street_id: int | None) -> list[ChatBinding]:
        """Active supervisor chats of a community and of its street, community first."""
        rows = await self._db.fetch_all(
            _BINDING_SELECT + " WHERE c.active = 1 AND c.kind = 'supervisor'"
            " AND (c.community_id = ? OR (c.street_id IS NOT NULL AND c.street_id = ?))"
            " ORDER BY c.community_id IS NULL, c.chat_id",
            (community_id, street_id),
        )
        return [ChatBinding.from_row(r) for r in rows]

    async def bind_grid(
        self,
        *,
        chat_id: int,
        title: str,
        grid: str,
        community: str,
        street: str | None,
        by: int | None,
        now: datetime,
    ) -> ChatBinding:
        """Bind (or rebind) a group as a grid of a community, creating the names it needs."""
        stamp = to_db_time(now)
        async with self._db.transaction() as conn:
            street_id = await _upsert_street(conn, street, stamp) if street else None
            community_id = await _upsert_community(conn, community, street_id, stamp)
            grid_id = await _upsert_grid(conn, grid, community_id, stamp)
            other = await _active_chat_of_grid(conn, grid_id, chat_id)
            if other is not None:
                raise GridTakenError(other)
            await _upsert_chat(conn, chat_id, title, "grid", grid_id, None, None, by, stamp)
            binding = await _binding_in(conn, chat_id)
        return binding

    async def bind_supervisor(
        self, *, chat_id: int, title: str, name: str, by: int | None, now: datetime
    ) -> ChatBinding:
        """Bind a group as supervisor of the community, or else the street, named ``name``."""
        stamp = to_db_time(now)
        async with self._db.transaction() as conn:
            community_id = await _id_by_name(conn, "communities", name)
            street_id = (
                None if community_id is not None else await _id_by_name(conn, "streets", name)
            )
            if community_id is None and street_id is None:
                raise UnknownUnitError(name)
            await _upsert_chat(
                conn, chat_id, title, "supervisor", None, community_id, street_id, by, stamp
            )
            binding = await _binding_in(conn, chat_id)
        return binding

    async def unbind(self, chat_id: int, now: datetime) -> ChatBinding | None:
        """Stop intake in a chat; its tickets and history stay."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE chats SET active = 0, updated_at = ? WHERE chat_id = ? AND active = 1",
                (to_db_time(now), chat_id),
            )
            if cursor.rowcount == 0:
                return None
            return await _binding_in(conn, chat_id)

    async def rename_chat(self, chat_id: int, title: str, now: datetime) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE chats SET title = ?, updated_at = ? WHERE chat_id = ? AND title <> ?",
                (title, to_db_time(now), chat_id, title),
            )

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int, now: datetime) -> bool:
        """A group became a supergroup: move its binding, tickets and votes to the new id
        (:func:`_move_votes`). Idempotent."""
        async with self._db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (old_chat_id,)) as cur:
                if await cur.fetchone() is None:
                    return False
            async with conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (new_chat_id,)) as cur:
                if await cur.fetchone() is not None:
                    # The new id was bound on its own already: it wins, the old row is retired.
                    await conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))
                else:
                    await conn.execute(
                        "UPDATE chats SET chat_id = ?, updated_at = ? WHERE chat_id = ?",
                        (new_chat_id, to_db_time(now), old_chat_id),
                    )
            for table in ("tickets", "ticket_media", "album_parts"):
                await conn.execute(
                    f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?",  # noqa: S608 - fixed names
                    (new_chat_id, old_chat_id),
                )
            await conn.execute("DELETE FROM chat_notices WHERE chat_id = ?", (old_chat_id,))
            await _move_votes(conn, old_chat_id, new_chat_id, now)
        return True


async def _move_votes(conn: AsyncConn, old_chat_id: int, new_chat_id: int, now: datetime) -> None:
    """议事 follows its group: each vote's chat becomes the new one (its result goes there, and
    a close stops only the polls there). The old group's polls are dead (nobody answers them
    any more; answers given stay recorded: they are per person, and count as before), so:
    ``stop_poll`` rows still waiting for the old chat are dropped, and each open vote whose
    poll went out there gets a fresh ``poll`` row in the new chat (dedupe
    ``vote:<id>:poll:<chat>``); a poll row still waiting simply follows the chat. The old
    polls keep their chat in ``vote_polls``: that is where they are (a stopPoll of their
    message ids in the new chat could hit another message)."""
    async with conn.execute(
        "SELECT id, question, options, thread_id FROM votes"
        " WHERE chat_id = ? AND status = 'open' ORDER BY id",
        (old_chat_id,),
    ) as cursor:
        open_votes = list(await cursor.fetchall())
    await conn.execute("UPDATE votes SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    await conn.execute(
        "UPDATE outbox SET status = 'dropped', last_error = ?"
        " WHERE chat_id = ? AND kind = 'stop_poll' AND status = 'pending'",
        (f"chat migrated to {new_chat_id}", old_chat_id),
    )
    for vote in open_votes:
        cursor = await conn.execute(
            "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND kind = 'poll'"
            " AND status = 'pending' AND dedupe_key = ?",
            (new_chat_id, old_chat_id, f"vote:{vote['id']}:poll"),
        )
        if cursor.rowcount:
            continue  # not sent yet: it goes to the new chat
        await queue(
            conn,
            OutboxDraft(
                chat_id=new_chat_id,
                kind="poll",
                not_before=now,
                payload={
                    "vote_id": vote["id"],
                    "question": vote["question"],
                    "options": json.loads(vote["options"]),
                    "thread_id": vote["thread_id"],
                },
                dedupe_key=f"vote:{vote['id']}:poll:{new_chat_id}",
            ),
            now,
        )


async def _id_by_name(conn: AsyncConn, table: str, name: str) -> int | None:
    # table is one of our own fixed names, never user input
    async with conn.execute(f"SELECT id FROM {table} WHERE name = ?", (name,)) as cursor:  # noqa: S608
        row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def _upsert_street(conn: AsyncConn, name: str, stamp: str) -> int:
    await conn.execute(
        "INSERT INTO streets (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, stamp),
    )
    found = await _id_by_name(conn, "streets", name)
    assert found is not None
    return found


async def _upsert_community(conn: AsyncConn, name: str, street_id: int | None, stamp: str) -> int:
    await conn.execute(
        "INSERT INTO communities (name, street_id, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE"
        " SET street_id = COALESCE(excluded.street_id, communities.street_id)",
        (name, street_id, stamp),
    )
    found = await _id_by_name(conn, "communities", name)
    assert found is not None
    return found


async def _upsert_grid(conn: AsyncConn, name: str, community_id: int, stamp: str) -> int:
    await conn.execute(
        "INSERT INTO grids (name, community_id, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (community_id, name) DO NOTHING",
        (name, community_id, stamp),
    )
    async with conn.execute(
        "SELECT id FROM grids WHERE community_id = ? AND name = ?", (community_id, name)
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _active_chat_of_grid(
    conn: AsyncConn, grid_id: int, except_chat: int
) -> ChatBinding | None:
    async with conn.execute(
        _BINDING_SELECT + " WHERE c.grid_id = ? AND c.active = 1 AND c.kind = 'grid'"
        " AND c.chat_id <> ?",
        (grid_id, except_chat),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else ChatBinding.from_row(row)


async def _upsert_chat(
    conn: AsyncConn,
    chat_id: int,
    title: str,
    kind: str,
    grid_id: int | None,
    community_id: int | None,
    street_id: int | None,
    by: int | None,
    stamp: str,
) -> None:
    await conn.execute(
        "INSERT INTO chats (chat_id, title, kind, grid_id, community_id, street_id, active,"
        " bound_by, bound_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"
        " ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title, kind = excluded.kind,"
        " grid_id = excluded.grid_id, community_id = excluded.community_id,"
        " street_id = excluded.street_id, active = 1, bound_by = excluded.bound_by,"
        " bound_at = excluded.bound_at, updated_at = excluded.updated_at",
        (chat_id, title, kind, grid_id, community_id, street_id, by, stamp, stamp),
    )


async def _binding_in(conn: AsyncConn, chat_id: int) -> ChatBinding:
    async with conn.execute(_BINDING_SELECT + " WHERE c.chat_id = ?", (chat_id,)) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return ChatBinding.from_row(row)


def active_binding_in(conn: Conn, chat_id: int) -> ChatBinding | None:
    """:meth:`GridRepository.active_binding` for work in the engine's thread."""
    row = conn.execute(_BINDING_SELECT + " WHERE c.chat_id = ?", (chat_id,)).fetchone()
    return None if row is None or not row["active"] else ChatBinding.from_row(row)
