"""PostgreSQL, the engine past one machine: psycopg 3, one connection in one thread.

The repositories' SQL is written once, in the subset of SQLite that PostgreSQL also speaks
(ARCHITECTURE.md, "One SQL for two engines"). :func:`translate` turns it into psycopg's form:
``?`` and ``:name`` placeholders become ``%s`` and ``%(name)s``, and the few SQLite spellings
the subset allows (``json_each`` over a list of ids, ``unixepoch``, ``IS ?``,
``NOT INDEXED``) become PostgreSQL's. Parameters are bound on the client (``ClientCursor``):
psycopg quotes each value, and an untyped ``NULL`` or text literal is compared the way SQLite
compares it.

Statements run in one worker thread with a synchronous connection, the way aiosqlite runs
SQLite's, so that :meth:`Database.run` and :meth:`Database.atomic` hand whole units of work
over in one step on both engines.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import shutil
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.adapt import Loader

from storage.db import LEADER_LOCK, POLLER_LOCK, AsyncConn, Conn, Database, Migration
from storage.files import prepare_backup_file

logger = logging.getLogger(__name__)

T = TypeVar("T")
CONNECT_TIMEOUT_S = 10
# pg_advisory_lock key while migrating: several instances starting at once migrate one by one
_MIGRATION_LOCK = 0x4C4C5401
# Session advisory lock keys of several instances on one database (Database.try_lead,
# Database.claim_poller): held by an instance's one connection, freed when its session ends.
# Advisory locks belong to one database of the server, so each database has its own pair.
_SESSION_LOCKS = {LEADER_LOCK: 0x4C4C5402, POLLER_LOCK: 0x4C4C5403}
# Per-chat claims of the webhook inbox (Database.try_claim_chat): session advisory locks in the
# two-int form, (this namespace, the chat id's crc32), a key space apart from the one-bigint keys
# above. Two chats sharing a hash only wait for each other.
_CHAT_LOCK_SPACE = 0x4C4C4348
# The outbox's per-chat claims (Database.claim_outbox_in): the same two-int form in a namespace of
# their own, so an instance may hold a chat's inbox while another sends its outbox.
_OUTBOX_LOCK_SPACE = 0x4C4C4F42
# The bot-wide flood budget (storage.flood): a transaction-scoped lock, (namespace, 0).
_FLOOD_LOCK = (0x4C4C464C, 0)


class PostgresUnavailableError(RuntimeError):
    """DATABASE_URL names a server that does not answer (the message names the setting)."""


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


# -- one SQL for two engines --------------------------------------------------------------------

_TOKENS = re.compile(
    r"""(?P<literal>'(?:[^']|'')*')"""
    r"""|(?P<ident>"(?:[^"]|"")*")"""
    r"""|(?P<comment>--[^\n]*)"""
    r"""|(?P<cast>::)"""
    r"""|(?P<named>:[A-Za-z_]\w*)"""
    r"""|(?P<numbered>\?\d+)"""
    r"""|(?P<mark>\?)"""
    r"""|(?P<percent>%)"""
)
_JSON_IDS = re.compile(r"SELECT\s+value\s+FROM\s+json_each\(\s*(\?\d*|:[A-Za-z_]\w*)\s*\)", re.I)
_UNIXEPOCH = re.compile(r"unixepoch\(([^()]*)\)", re.I)
_NOT_INDEXED = re.compile(r"\s+NOT\s+INDEXED\b", re.I)
# SQLite's ``a IS ?`` / ``a IS NOT ?`` compare NULLs as values; PostgreSQL spells it out
_IS_VALUE = re.compile(r"\bIS\s+(NOT\s+)?(?=\?|:[A-Za-z_])", re.I)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """The SQLite-subset statement ``sql`` in PostgreSQL's (and psycopg's) form."""
    sql = _JSON_IDS.sub(
        r"SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(\1 AS json))", sql
    )
    sql = _UNIXEPOCH.sub(r"CAST(EXTRACT(EPOCH FROM CAST(\1 AS timestamptz)) AS BIGINT)", sql)
    sql = _NOT_INDEXED.sub("", sql)
    sql = _IS_VALUE.sub(
        lambda m: "IS DISTINCT FROM " if m.group(1) else "IS NOT DISTINCT FROM ", sql
    )

    def one(match: re.Match[str]) -> str:
        kind = match.lastgroup
        text = match.group()
        if kind == "mark":
            return "%s"
        if kind == "numbered":  # SQLite's ?1, ?2: the same parameter used twice
            return f"%(_{text[1:]})s"
        if kind == "named":
            return f"%({text[1:]})s"
        if kind in ("percent", "literal", "comment"):
            return text.replace("%", "%%")
        return text

    return _TOKENS.sub(one, sql)


# -- rows ---------------------------------------------------------------------------------------


class PgRow(Sequence[Any]):
    """A row by position and by column name, like ``sqlite3.Row``."""

    __slots__ = ("_names", "_values")

    def __init__(self, values: Sequence[Any], names: dict[str, int]) -> None:
        self._values = tuple(values)
        self._names = names

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._values[self._names[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return sorted(self._names, key=self._names.__getitem__)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self.keys(), self._values, strict=False))!r})"


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], PgRow]:
    names: dict[str, int] = {}
    for index, column in enumerate(cursor.description or ()):
        names.setdefault(column.name, index)  # the first of two equal names, as sqlite3.Row
    return lambda values: PgRow(values, names)


class _Number(Loader):
    """``numeric`` (``SUM`` of integers, ``* 1.0``) as int when whole, else float, as SQLite."""

    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


# -- the connection -----------------------------------------------------------------------------


class PgConn:
    """:class:`storage.db.Conn` over a synchronous psycopg connection (in the engine's thread)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Any]:
        query = translate(sql)
        return self.raw.execute(query, _values(query, parameters))

    def executemany(self, sql: str, parameters: Any, /) -> psycopg.Cursor[Any]:
        query = translate(sql)
        cursor = self.raw.cursor()
        cursor.executemany(query, [_values(query, p) for p in parameters])
        return cursor


def _values(query: str, parameters: Any) -> Any:
    """Parameters as psycopg takes them: ``?1``-style ones by name, text without NUL.

    PostgreSQL text cannot hold U+0000 (SQLite's can); it never means anything in a resident's
    message, so it is dropped rather than refusing the message.
    """
    if parameters is None:
        return ()
    if isinstance(parameters, dict):
        return {k: _text(v) for k, v in parameters.items()}
    values = [_text(v) for v in parameters]
    if "%(_" in query:
        return {f"_{i}": v for i, v in enumerate(values, start=1)}
    return values


def _text(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


def copy_rows(
    conn: Conn, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY table (columns) FROM STDIN``: many rows in one statement (``db copy``)."""
    raw = cast(PgConn, conn).raw
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def stream(conn: Conn, sql: str, size: int) -> Iterator[list[Any]]:
    """A query's rows ``size`` at a time through a server-side cursor (inside a transaction)."""
    raw = cast(PgConn, conn).raw
    with raw.cursor(name=f"linlitong_stream_{id(raw)}") as cursor:
        cursor.execute(translate(sql), ())
        while rows := cursor.fetchmany(size):
            yield rows


class _Fetched:
    """A statement's result, read in the engine's thread: aiosqlite's cursor shape."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


class _Pending:
    """``await conn.execute(…)`` and ``async with conn.execute(…) as cursor`` both work."""

    def __init__(self, db: PostgresDatabase, sql: str, parameters: Any, many: bool) -> None:
        self._db, self._sql, self._parameters, self._many = db, sql, parameters, many

    async def _run(self) -> _Fetched:
        sql, parameters, many = self._sql, self._parameters, self._many

        def work(conn: Conn) -> _Fetched:
            cursor = (
                conn.executemany(sql, parameters) if many else conn.execute(sql, parameters or ())
            )
            has_rows = getattr(cursor, "description", None) is not None
            return _Fetched(list(cursor.fetchall()) if has_rows else [], cursor.rowcount)

        return await self._db._in_thread(work)

    def __await__(self) -> Generator[Any, None, _Fetched]:
        return self._run().__await__()

    async def __aenter__(self) -> _Fetched:
        return await self._run()

    async def __aexit__(self, *exc: object) -> None:
        return None


class _AsyncFacade:
    """:class:`storage.db.AsyncConn` for :meth:`Database.transaction` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def execute(self, sql: str, parameters: Any = None) -> _Pending:
        return _Pending(self._db, sql, parameters, many=False)

    async def execute_fetchall(self, sql: str, parameters: Any = None) -> list[Any]:
        fetched: _Fetched = await _Pending(self._db, sql, parameters, many=False)
        return await fetched.fetchall()

    async def executemany(self, sql: str, parameters: Any) -> _Fetched:
        fetched: _Fetched = await _Pending(self._db, sql, list(parameters), many=True)
        return fetched


def _connect(url: str) -> psycopg.Connection[Any]:
    raw: psycopg.Connection[Any] = psycopg.connect(
        url,
        autocommit=True,  # transactions are explicit: BEGIN … COMMIT, as on SQLite
        cursor_factory=psycopg.ClientCursor,
        row_factory=_row_factory,
        connect_timeout=CONNECT_TIMEOUT_S,
        application_name="linlitong",
    )
    raw.adapters.register_loader("numeric", _Number)
    return raw


class PostgresDatabase(Database):
    engine: ClassVar[str] = "postgresql"
    # Read committed, whatever the server's default: a statement sees what committed before it
    # (the outbox claim taken inside the ticket's transaction reads rows another instance has
    # just marked sent; guarded updates re-check their rows)
    BEGIN: ClassVar[str] = "BEGIN ISOLATION LEVEL READ COMMITTED"

    def __init__(self, url: str, raw: psycopg.Connection[Any], executor: ThreadPoolExecutor):
        super().__init__(safe_url(url))
        self.url = url
        self._conn = PgConn(raw)
        self._executor = executor
        self._claimed_chats: set[int] = set()  # try_claim_chat: the chats this session holds
        self._outbox_chats: set[int] = set()  # claim_outbox_in: the chats this session holds

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> PostgresDatabase:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres")
        loop = asyncio.get_running_loop()
        try:
            raw = await loop.run_in_executor(executor, _connect, url)
        except psycopg.Error as exc:
            executor.shutdown(wait=False)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PostgresUnavailableError(
                f"DATABASE_URL: cannot connect to {safe_url(url)} ({reason}); check the host, "
                "port, user, password and database name, and that the server is running"
            ) from None
        db = cls(url, raw, executor)
        try:
            if migrate:
                await db.migrate()
            else:
                await db.check_version()
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._conn.raw.close)
        self._executor.shutdown(wait=False)

    def _async_conn(self) -> AsyncConn:
        return cast(AsyncConn, _AsyncFacade(self))

    async def _in_thread(self, work: Callable[[Conn], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work, self._conn)

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> list[Migration]:
        """One instance at a time: the others wait on an advisory lock, then find nothing to do."""
        await self.run(lambda conn: conn.execute("SELECT pg_advisory_lock(?)", (_MIGRATION_LOCK,)))
        try:
            return await super().migrate(migrations)
        finally:
            await self.run(
                lambda conn: conn.execute("SELECT pg_advisory_unlock(?)", (_MIGRATION_LOCK,))
            )

    @property
    def poller_lock(self) -> str:
        return str(_SESSION_LOCKS[POLLER_LOCK])

    async def _take_lock(self, name: str) -> bool:
        """``pg_try_advisory_lock`` on this session; the caller remembers it holds the lock
        (taking it again would stack: a session must unlock it as often as it took it)."""
        key = _SESSION_LOCKS[name]
        return bool(await self.fetch_value("SELECT pg_try_advisory_lock(?)", (key,)))

    async def _release_lock(self, name: str) -> None:
        if self._conn.raw.closed:
            return  # the session has ended, and its locks with it
        await self.fetch_value("SELECT pg_advisory_unlock(?)", (_SESSION_LOCKS[name],))

    async def try_claim_chat(self, chat_id: int) -> bool:
        """``pg_try_advisory_lock(namespace, hash)`` on this session, once per chat: a session
        that took a lock twice would have to unlock it twice, so a chat held here is refused."""
        if chat_id in self._claimed_chats:
            return False
        taken = await self.fetch_value(
            "SELECT pg_try_advisory_lock(?, ?)", (_CHAT_LOCK_SPACE, _chat_key(chat_id))
        )
        if taken:
            self._claimed_chats.add(chat_id)
        return bool(taken)

    async def release_chat(self, chat_id: int) -> None:
        if chat_id not in self._claimed_chats:
            return
        self._claimed_chats.discard(chat_id)
        if self._conn.raw.closed:
            return  # the session has ended, and its locks with it
        await self.fetch_value(
            "SELECT pg_advisory_unlock(?, ?)", (_CHAT_LOCK_SPACE, _chat_key(chat_id))
        )

    def claim_outbox_in(self, conn: Conn, chat_ids: Sequence[int]) -> list[int]:
        """``pg_try_advisory_lock(namespace, hash)`` for each chat, in one statement; a chat this
        session holds already is refused (taking it again would stack: one unlock would not
        free it)."""
        wanted = [[chat, _chat_key(chat)] for chat in chat_ids if chat not in self._outbox_chats]
        if not wanted:
            return []
        rows = conn.execute(
            "SELECT CAST(c.value ->> 0 AS BIGINT) FROM json_array_elements(CAST(? AS json)) AS c"
            " WHERE pg_try_advisory_lock(?, CAST(c.value ->> 1 AS INTEGER))",
            (json.dumps(wanted), _OUTBOX_LOCK_SPACE),
        ).fetchall()
        taken = [int(row[0]) for row in rows]
        self._outbox_chats.update(taken)
        return taken

    async def release_outbox(self, chat_id: int) -> None:
        if chat_id in self._outbox_chats:
            await self.run(lambda conn: self.release_outbox_in(conn, chat_id))

    def release_outbox_in(self, conn: Conn, chat_id: int) -> None:
        if chat_id not in self._outbox_chats:
            return
        self._outbox_chats.discard(chat_id)
        if self._conn.raw.closed:
            return  # the session has ended, and its locks with it
        conn.execute("SELECT pg_advisory_unlock(?, ?)", (_OUTBOX_LOCK_SPACE, _chat_key(chat_id)))

    def flood_lock(self) -> tuple[str, Sequence[Any]] | None:
        """``pg_advisory_xact_lock``: every instance's booking waits for the one in hand; freed
        by its COMMIT or ROLLBACK."""
        return "SELECT pg_advisory_xact_lock(?, ?)", _FLOOD_LOCK

    def batch_in(self, conn: Conn, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """One simple-query round trip (client-side binding allows several statements); an
        error in one ends the batch there, as it would one by one."""
        sql = ";\n".join(text for text, _ in statements)
        params = [value for _, values in statements for value in values]
        cursor = cast(psycopg.Cursor[Any], conn.execute(sql, params))
        rows: list[Any] = []
        while True:
            if cursor.pgresult is not None and cursor.description is not None:
                rows = cursor.fetchall()
            if not cursor.nextset():
                return rows

    async def clock_seconds(self) -> float:
        """The server's clock: every instance reads the same one, whatever its machine's says."""
        return float(await self.fetch_value("SELECT EXTRACT(EPOCH FROM clock_timestamp())"))

    async def integrity_check(self) -> list[str]:
        """Constraints PostgreSQL has not validated (it enforces the rest itself)."""
        rows = await self.fetch_all(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint"
            " WHERE NOT convalidated AND connamespace = 'public'::regnamespace"
        )
        return [f"constraint not validated: {row[0]}.{row[1]}" for row in rows]

    async def backup_to(self, target: Path) -> None:
        """``pg_dump`` in its custom format (restore with ``pg_restore``); the file is 0600."""
        pg_dump = await asyncio.to_thread(shutil.which, "pg_dump")
        if pg_dump is None:
            raise BackupUnavailableError(
                "db backup: pg_dump is not installed on this machine; install the PostgreSQL "
                "client (Debian: apt install postgresql-client) or back up with the server's tools"
            )
        await asyncio.to_thread(prepare_backup_file, target)
        parts = urlsplit(self.url)
        env = dict(os.environ)
        if parts.password is not None:
            env["PGPASSWORD"] = parts.password  # never on the command line (ps shows it)
        bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
        args = ["--format=custom", f"--file={target}", f"--dbname={bare}"]
        if parts.username:
            args.append(f"--username={parts.username}")
        process = await asyncio.create_subprocess_exec(
            pg_dump,
            *args,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
        if process.returncode != 0:
            reason = err.decode(errors="replace").strip().splitlines()
            raise BackupUnavailableError(
                f"db backup: pg_dump failed: {reason[-1] if reason else process.returncode}"
            )


def _chat_key(chat_id: int) -> int:
    """A chat id (up to 52 bits) as the int4 of a two-int advisory lock: its crc32, signed."""
    folded = zlib.crc32(chat_id.to_bytes(8, "big", signed=True))
    return folded - (1 << 32) if folded >= 1 << 31 else folded


class BackupUnavailableError(RuntimeError):
    """``db backup`` on PostgreSQL could not run ``pg_dump`` (the message says why)."""
