"""The connection: pragmas, one lock, transactions and numbered migrations."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.files import prepare_backup_file, prepare_database_file

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
_RECORD_HANDLED = "INSERT OR IGNORE INTO handled_updates (update_id, handled_at) VALUES (?, ?)"
T = TypeVar("T")
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer LinliTong than this one."""


class DatabaseMissingError(FileNotFoundError):
    """``Database.open(path, create=False)`` found no database file at ``path``."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(f"no database at {path}")
        self.path = path


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


@dataclass
class UpdateScope:
    """The update the current task is handling; see :func:`handling`."""

    update_id: int
    at: datetime
    task: asyncio.Task[Any] | None
    recorded: bool = False


_handling: ContextVar[UpdateScope | None] = ContextVar("linlitong_update", default=None)


@contextmanager
def handling(update_id: int, at: datetime) -> Iterator[UpdateScope]:
    """While handling an update, the first transaction that commits records it as handled.

    Recording it in the same transaction as the change it makes is what lets a redelivered
    update be skipped without losing or doubling anything. Only transactions of the task that
    handles the update count: a task it starts (the outbox sender) inherits the context but
    writes on its own schedule, which must not mark the update handled early.
    """
    scope = UpdateScope(update_id, at, _current_task())
    token = _handling.set(scope)
    try:
        yield scope
    finally:
        _handling.reset(token)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


def unrecorded_scope() -> UpdateScope | None:
    """The update this task is handling, if nothing has recorded it yet."""
    scope = _handling.get()
    if scope is None or scope.recorded or scope.task is not _current_task():
        return None
    return scope


class Database:
    """One aiosqlite connection shared by the whole bot; statements are serialised by one lock."""

    def __init__(self, conn: aiosqlite.Connection, path: Path | str) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        # The highest update id this connection has written (or is about to write) to
        # handled_updates; with the highest one found there, a new update needs no read
        # (HandledUpdates.seen). Raised before the write, so it is never below a record.
        self.handled_above = 0

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True, create: bool = True) -> Database:
        """``create=False``: no file at ``path`` raises :class:`DatabaseMissingError`."""
        if str(path) != ":memory:":
            if not create and not await asyncio.to_thread(Path(path).is_file):
                raise DatabaseMissingError(path)
            # 0600 (its folders 0700) whatever the umask: it holds residents' phone numbers
            await asyncio.to_thread(prepare_database_file, Path(path))
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
                scope = unrecorded_scope()
                if scope is not None:
                    self.note_handled(scope.update_id)
                    await self._conn.execute(
                        _RECORD_HANDLED, (scope.update_id, to_db_time(scope.at))
                    )
                await self._conn.commit()
                if scope is not None:
                    scope.recorded = True

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` in sqlite's thread: several statements in one hand-over.

        Every ``await`` on the aiosqlite connection is a hand-over between the event loop and
        aiosqlite's thread (~0.1 ms of CPU each, more under load); a hot path with several
        statements (opening a ticket, the sender's reads) runs them in one. ``work`` runs in
        that thread: plain ``sqlite3`` calls only, quick, nothing of the event loop.
        """
        async with self._lock:
            # aiosqlite's own way to run a function in its thread (it has no public one)
            result: T = await self._conn._execute(work, self._conn._conn)  # type: ignore[no-untyped-call]
            return result

    async def atomic(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """:meth:`transaction` in one hand-over: BEGIN IMMEDIATE, ``work``, the handled
        update's record (as :meth:`transaction` writes it), COMMIT; ROLLBACK if ``work`` raises."""
        scope = unrecorded_scope()
        record = None if scope is None else (scope.update_id, to_db_time(scope.at))
        if scope is not None:
            self.note_handled(scope.update_id)

        def whole(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                if record is not None:
                    conn.execute(_RECORD_HANDLED, record)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            return result

        result = await self.run(whole)
        if scope is not None:
            scope.recorded = True
        return result

    def note_handled(self, update_id: int) -> None:
        """``update_id`` is about to be recorded as handled (call it before the write)."""
        self.handled_above = max(self.handled_above, update_id)

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
        """SQLite's online backup: consistent even while the bot writes. The file is 0600."""
        await asyncio.to_thread(prepare_backup_file, target)
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
