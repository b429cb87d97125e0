"""The connection: pragmas, one lock, transactions and numbered migrations."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer LinliTong than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


def load_migrations() -> tuple[Migration, ...]:
    """``storage/migrations/NNNN_name.sql`` in order; each file's first comment describes it."""
    found: list[Migration] = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if not match:
            continue
        sql = entry.read_text(encoding="utf-8")
        first = sql.splitlines()[0] if sql else ""
        description = first.removeprefix("--").strip() or match.group(2).replace("_", " ")
        found.append(Migration(int(match.group(1)), description, sql))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {versions}")
    return tuple(found)


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    """Stored form of a moment: UTC ISO-8601 to the second, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored; attach a time zone")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Database:
    """One aiosqlite connection shared by the whole bot; statements are serialised by one lock."""

    def __init__(self, conn: aiosqlite.Connection, path: Path | str) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            db = cls(conn, path)
            if migrate:
                await db.migrate()
            else:
                await db.check_version()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self._conn.close()

    # -- statements -------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (cancellation included)."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.rollback()
                raise
            else:
                await self._conn.commit()

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a statement that returns one row (or a few): see :func:`first`."""
        async with self._lock:
            return await first(self._conn, sql, params)

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    # -- schema -----------------------------------------------------------------------------

    async def schema_version(self) -> int:
        async with self._lock:
            await self._ensure_version_table()
            async with self._conn.execute("SELECT MAX(version) FROM schema_migrations") as cursor:
                row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def _ensure_version_table(self) -> None:
        await self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )

    async def check_version(self, migrations: Iterable[Migration] | None = None) -> int:
        known = max((m.version for m in migrations or load_migrations()), default=0)
        current = await self.schema_version()
        if current > known:
            raise SchemaTooNewError(
                f"database {self.path} is at schema version {current}, but this LinliTong knows "
                f"only up to {known}: upgrade LinliTong (or restore a backup) before using it"
            )
        return current

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> list[Migration]:
        """Apply every migration newer than the database, each in its own transaction."""
        todo = tuple(migrations) if migrations is not None else load_migrations()
        current = await self.check_version(todo)
        applied = []
        for migration in todo:
            if migration.version <= current:
                continue
            await self._apply(migration)
            logger.info("applied migration %04d: %s", migration.version, migration.description)
            applied.append(migration)
        return applied

    async def _apply(self, migration: Migration) -> None:
        async with self.transaction() as conn:
            for statement in split_statements(migration.sql):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, to_db_time(utc_now())),
            )

    # -- maintenance ------------------------------------------------------------------------

    async def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` and ``foreign_key_check``: an empty list means healthy."""
        problems = [
            str(row[0])
            for row in await self.fetch_all("PRAGMA integrity_check")
            if str(row[0]) != "ok"
        ]
        problems += [
            f"foreign key: {row[0]} row {row[1]} -> {row[2]}"
            for row in await self.fetch_all("PRAGMA foreign_key_check")
        ]
        return problems

    async def backup_to(self, target: Path) -> None:
        """SQLite's online backup: consistent even while the bot writes."""
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = await aiosqlite.connect(target)
        try:
            async with self._lock:
                await self._conn.backup(dest)
        finally:
            await dest.close()


async def first(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()
) -> sqlite3.Row | None:
    """The first row, in one trip to the connection's thread.

    ``async with conn.execute(...) as cursor: await cursor.fetchone()`` takes three (execute,
    fetch, close), each a hand-over between the event loop and aiosqlite's thread; on the
    intake path those hand-overs cost more than the statements. Meant for statements that
    return one row or a few (by key, aggregates): every row is fetched.
    """
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


def split_statements(script: str) -> list[str]:
    """Complete SQL statements of a script, in order (SQLite decides where one ends)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip().strip(";").strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        not ln.strip() or ln.strip().startswith("--") for ln in buffer.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of the script: {buffer[:80]!r}")
    return statements
