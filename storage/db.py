"""The database, whichever engine runs it: one lock, transactions, numbered migrations.

Repositories write SQL once, in the subset both engines understand (see ARCHITECTURE.md,
"One SQL for two engines"), against :class:`Conn` (plain statements in the engine's thread,
inside :meth:`Database.run` / :meth:`Database.atomic`) or :class:`AsyncConn` (inside
:meth:`Database.transaction`). :mod:`storage.sqlite` and :mod:`storage.postgres` are the
engines; :func:`open_database` picks one from the target.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from storage.outbox import Adopter

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
_RECORD_HANDLED = (
    "INSERT INTO handled_updates (update_id, handled_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
)
T = TypeVar("T")
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# The locks of several instances on one database (Database.try_lead, Database.claim_poller)
LEADER_LOCK = "leader"  # the instance that runs the scheduled tick
POLLER_LOCK = "poller"  # the one instance polling Telegram
LOCK_RETRY_S = 0.25  # claim_poller(wait=…): how often a taken lock is asked for again


class Rollback(Exception):
    """Raised by the work of :meth:`Database.atomic` that found nothing to change: the
    transaction is rolled back and ``atomic`` returns ``result``."""

    def __init__(self, result: object) -> None:
        super().__init__("nothing to change")
        self.result = result


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


def load_migrations(engine: str = "sqlite") -> tuple[Migration, ...]:
    """``storage/migrations/NNNN_name.sql`` (SQLite) or ``…/postgresql/NNNN_name.sql`` in order;
    each file's first comment describes it. Both engines' migrations are numbered alike."""
    found: list[Migration] = []
    folder = resources.files("storage.migrations")
    if engine != "sqlite":
        folder = folder.joinpath(engine)
    for entry in folder.iterdir():
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


class Row(Protocol):
    """A result row: by position (``row[0]``) and by column name (``row["id"]``)."""

    def __getitem__(self, key: int | str | slice, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """What :meth:`Database.run` and :meth:`Database.atomic` work gets, in the engine's thread."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...


class AsyncCursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> Any: ...


class PendingCursor(Protocol):
    """``await conn.execute(…)`` or ``async with conn.execute(…) as cursor``: the cursor."""

    def __await__(self) -> Generator[Any, None, AsyncCursor]: ...

    async def __aenter__(self) -> AsyncCursor: ...

    async def __aexit__(self, *exc: object) -> Any: ...


class AsyncConn(Protocol):
    """The connection inside :meth:`Database.transaction` (aiosqlite's shape)."""

    def execute(self, sql: str, parameters: Any = None) -> PendingCursor: ...

    async def execute_fetchall(self, sql: str, parameters: Any = None) -> Iterable[Row]: ...

    async def executemany(self, sql: str, parameters: Any) -> AsyncCursor: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    """Stored form of a moment: UTC ISO-8601 to the second, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored; attach a time zone")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def time_at(row: Row, column: str) -> datetime:
    """A NOT NULL time column of a row, as a datetime."""
    moment = from_db_time(row[column])
    assert moment is not None, column
    return moment


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
    """One connection shared by the whole process; statements are serialised by one lock.

    The engines (:class:`storage.sqlite.SqliteDatabase`, :class:`storage.postgres.PostgresDatabase`)
    supply the connection; everything above the connection is here, once.
    """

    engine: ClassVar[str] = ""
    BEGIN: ClassVar[str] = "BEGIN"

    def __init__(self, name: str) -> None:
        self.name = name  # what messages call this database (a path, or a URL without password)
        self._lock = asyncio.Lock()
        # The highest update id this connection has written (or is about to write) to
        # handled_updates; with the highest one found there, a new update needs no read
        # (HandledUpdates.seen). Raised before the write, so it is never below a record.
        self.handled_above = 0
        # The running sender of this process, which takes a chat's rows in the transaction
        # that queues them (storage.outbox.Adopter); None: rows wait for the sender's read.
        self.outbox_adopter: Adopter | None = None

    @property
    def busy(self) -> Callable[[], bool]:
        """True while a statement runs (tests' virtual clocks must not jump then)."""
        return self._lock.locked

    async def close(self) -> None:
        raise NotImplementedError

    # -- the engine's part ------------------------------------------------------------------

    def _async_conn(self) -> AsyncConn:
        raise NotImplementedError

    async def _in_thread(self, work: Callable[[Conn], T]) -> T:
        """``work(connection)`` in the engine's thread (the lock is held by the caller)."""
        raise NotImplementedError

    # -- statements -------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConn]:
        """BEGIN … COMMIT, rolled back on any exception (cancellation included)."""
        async with self._lock:
            conn = self._async_conn()
            await conn.execute(self.BEGIN)
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            else:
                scope = unrecorded_scope()
                if scope is not None:
                    self.note_handled(scope.update_id)
                    await conn.execute(_RECORD_HANDLED, (scope.update_id, to_db_time(scope.at)))
                await conn.execute("COMMIT")
                if scope is not None:
                    scope.recorded = True

    async def run(self, work: Callable[[Conn], T]) -> T:
        """``work(connection)`` in the engine's thread: several statements in one hand-over.

        Every statement awaited on the event loop is a hand-over between the loop and the
        engine's thread (~0.1 ms of CPU each, more under load); a hot path with several
        statements (opening a ticket, the sender's reads) runs them in one. ``work`` runs in
        that thread: plain statements only, quick, nothing of the event loop.
        """
        async with self._lock:
            return await self._in_thread(work)

    async def atomic(self, work: Callable[[Conn], T], *, scope: UpdateScope | None = None) -> T:
        """:meth:`transaction` in one hand-over: BEGIN, ``work``, the handled update's record
        (as :meth:`transaction` writes it), COMMIT; ROLLBACK if ``work`` raises. ``work`` that
        finds nothing to change raises :class:`Rollback` with its result: rolled back, nothing
        recorded, and that result returned. ``scope``: the update a task of its own runs this
        for (its handler's :func:`unrecorded_scope`, taken in the handler's task)."""
        scope = scope or unrecorded_scope()
        record = None if scope is None else (scope.update_id, to_db_time(scope.at))
        if scope is not None:
            self.note_handled(scope.update_id)
        begin = self.BEGIN

        def whole(conn: Conn) -> tuple[bool, T]:
            conn.execute(begin)
            try:
                result = work(conn)
                if record is not None:
                    conn.execute(_RECORD_HANDLED, record)
                conn.execute("COMMIT")
            except Rollback as nothing:
                conn.execute("ROLLBACK")
                return False, cast(T, nothing.result)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return True, result

        committed, result = await self.run(whole)
        if scope is not None and committed:
            scope.recorded = True
        return result

    def note_handled(self, update_id: int) -> None:
        """``update_id`` is about to be recorded as handled (call it before the write)."""
        self.handled_above = max(self.handled_above, update_id)

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of ``sql`` (none for a statement that returns none)."""

        def read(conn: Conn) -> list[Row]:
            cursor = conn.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description is not None else []

        return await self.run(read)

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a statement that returns one row (or a few): every row is fetched."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def ping(self) -> None:
        """One trivial statement: raises when the database cannot answer (``/healthz``)."""
        await self.fetch_value("SELECT 1")

    # -- several instances on one database: one leader, one poller ---------------------------
    # Whether this object holds each lock (class defaults; the methods below set their own).
    leading: bool = False
    polling: bool = False

    async def try_lead(self) -> bool:
        """Lead the instances sharing this database (the leader runs the scheduled tick).

        True while this connection holds the leader lock. Asking again while holding it costs
        nothing and never takes it twice (one :meth:`release_lead` frees it). The lock lives as
        long as the connection: an instance that dies leaves it to the next one that asks.
        """
        if not self.leading:
            self.leading = await self._take_lock(LEADER_LOCK)
        return self.leading

    async def release_lead(self) -> None:
        if self.leading:
            self.leading = False
            await self._release_lock(LEADER_LOCK)

    async def claim_poller(self, wait: float = 0.0) -> bool:
        """Be the one instance that polls Telegram for this database; False if another is.

        Held until :meth:`release_poller` or the end of the process (a connection's end, on
        PostgreSQL). A taken lock is asked for again for up to ``wait`` seconds: a process that
        has just died may not have let go of it yet.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not self.polling:
            self.polling = await self._take_lock(POLLER_LOCK)
            if self.polling or loop.time() >= deadline:
                break
            await asyncio.sleep(min(LOCK_RETRY_S, max(0.0, deadline - loop.time())))
        return self.polling

    async def release_poller(self) -> None:
        if self.polling:
            self.polling = False
            await self._release_lock(POLLER_LOCK)

    @property
    def poller_lock(self) -> str:
        """What holds the poller lock, for messages: an advisory lock's key, a lock file."""
        raise NotImplementedError

    async def _take_lock(self, name: str) -> bool:
        """Take the lock ``name`` (:data:`LEADER_LOCK`, :data:`POLLER_LOCK`) without waiting."""
        raise NotImplementedError

    async def _release_lock(self, name: str) -> None:
        raise NotImplementedError

    # -- several instances on one database: one instance at a time per chat (the inbox) ------

    async def try_claim_chat(self, chat_id: int) -> bool:
        """Be the one instance working on ``chat_id``'s inbox; False (at once) if another
        instance, or this one, holds it. Held until :meth:`release_chat` or the end of the
        connection: an instance that dies leaves the chat to the next one that asks."""
        raise NotImplementedError

    async def release_chat(self, chat_id: int) -> None:
        """Let go of a chat claimed with :meth:`try_claim_chat` (nothing if not held)."""
        raise NotImplementedError

    # -- several instances on one database: one sender per chat, one flood budget ------------
    # (storage.outbox and storage.flood call these inside run()/atomic(), in the engine's thread)

    def claim_outbox_in(self, conn: Conn, chat_ids: Sequence[int]) -> list[int]:
        """Of ``chat_ids``, the chats whose outbox this instance may now send, one instance at a
        time per chat, until :meth:`release_outbox`. Here every one of them: an SQLite database
        serves one process, whose sender drains a chat once at a time by itself."""
        return list(chat_ids)

    async def release_outbox(self, chat_id: int) -> None:
        """Let go of a chat claimed with :meth:`claim_outbox_in` (nothing if not held)."""
        return None

    def release_outbox_in(self, conn: Conn, chat_id: int) -> None:
        """:meth:`release_outbox` inside :meth:`run`, after the work that had to come first."""
        return None

    def flood_lock(self) -> tuple[str, Sequence[Any]] | None:
        """The statement that, inside a transaction, waits for the bot-wide flood budget's lock,
        held to the transaction's end. None here: SQLite's ``BEGIN IMMEDIATE`` already lets one
        writer in at a time."""
        return None

    def batch_in(self, conn: Conn, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Row]:
        """Several statements in order, in one round trip where the engine has trips to save
        (PostgreSQL); the rows of the last one. Here one after the other."""
        rows: list[Row] = []
        for sql, params in statements:
            cursor = conn.execute(sql, params)
            rows = list(cursor.fetchall()) if cursor.description is not None else []
        return rows

    async def clock_seconds(self) -> float:
        """Seconds since the epoch on the database's clock (SQLite's is this machine's)."""
        return float(await self.fetch_value("SELECT (julianday('now') - 2440587.5) * 86400.0"))

    # -- schema -----------------------------------------------------------------------------

    async def schema_version(self) -> int:
        def read(conn: Conn) -> int:
            conn.execute(_VERSION_TABLE)
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return await self.run(read)

    async def check_version(self, migrations: Iterable[Migration] | None = None) -> int:
        known = max((m.version for m in migrations or load_migrations(self.engine)), default=0)
        current = await self.schema_version()
        if current > known:
            raise SchemaTooNewError(
                f"database {self.name} is at schema version {current}, but this LinliTong knows "
                f"only up to {known}: upgrade LinliTong (or restore a backup) before using it"
            )
        return current

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> list[Migration]:
        """Apply every migration newer than the database, each in its own transaction."""
        todo = tuple(migrations) if migrations is not None else load_migrations(self.engine)
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
        """The engine's own consistency checks: an empty list means healthy."""
        raise NotImplementedError

    async def backup_to(self, target: Path) -> None:
        raise NotImplementedError


_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


def is_url(target: Path | str) -> bool:
    """``postgresql://…`` (or ``postgres://…``) rather than an SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


async def open_database(
    target: Path | str, *, migrate: bool = True, create: bool = True
) -> Database:
    """SQLite at a path, PostgreSQL at a ``postgresql://`` URL; migrated unless ``migrate=False``
    (then a newer schema is refused). ``create=False``: an SQLite file must already exist."""
    if is_url(target):
        from storage.postgres import PostgresDatabase

        return await PostgresDatabase.open(str(target), migrate=migrate)
    from storage.sqlite import SqliteDatabase

    return await SqliteDatabase.open(target, migrate=migrate, create=create)


async def first(conn: AsyncConn, sql: str, params: Sequence[Any] = ()) -> Row | None:
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
