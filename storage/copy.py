"""``linlitong db copy``: an SQLite deployment moved into an empty PostgreSQL database.

Every table is read inside one SQLite read transaction (one consistent moment), written inside
one PostgreSQL transaction with its foreign keys checked at COMMIT (rows go in table by table,
and a ticket may point at a later one), and then verified: the row count and an
order-independent checksum of every table must match on both sides before the copy is done.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Conn, Database
from storage.postgres import copy_rows, stream

logger = logging.getLogger(__name__)

BATCH = 5000
# not copied: the target's own migrations wrote it
_SKIP = frozenset({"schema_migrations"})


class CopyRefusedError(RuntimeError):
    """The copy cannot start (the message says why); nothing was written."""


class CopyMismatchError(RuntimeError):
    """The copy finished but a table differs: it was rolled back."""


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    checksum: str


def _tables(conn: Conn) -> list[str]:
    """SQLite's tables in the order they were created (parents before children)."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY rowid"
    ).fetchall()
    return [str(r[0]) for r in rows if str(r[0]) not in _SKIP]


def _columns(conn: Conn, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()]


def _quoted(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected table or column name {name!r}")
    return f'"{name}"'


def _normal(value: Any) -> str:
    """One value as both engines give it back: bytes and memoryview alike, 1 and 1.0 alike."""
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return "b:" + value.hex()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool):
        value = int(value)
    return f"{type(value).__name__}:{value}"


class Checksum:
    """Sum of each row's SHA-256 modulo 2**256: the same rows give the same sum in any order."""

    def __init__(self) -> None:
        self.total = 0
        self.rows = 0

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            digest = hashlib.sha256("\x1f".join(_normal(v) for v in row).encode()).digest()
            self.total = (self.total + int.from_bytes(digest, "big")) % (1 << 256)
            self.rows += 1

    def hexdigest(self) -> str:
        return f"{self.total:064x}"


def _target_counts(conn: Conn, tables: list[str]) -> dict[str, int]:
    return {
        t: int(conn.execute(f"SELECT COUNT(*) FROM {_quoted(t)}").fetchone()[0])  # noqa: S608
        for t in tables
    }


def _page(conn: Conn, table: str, columns: list[str], after: int) -> list[tuple[Any, ...]]:
    """The next ``BATCH`` rows of an SQLite table by rowid (every table here has one)."""
    select = ", ".join(_quoted(c) for c in columns)
    return [
        tuple(r)
        for r in conn.execute(
            f"SELECT rowid, {select} FROM {_quoted(table)} WHERE rowid > ?"  # noqa: S608
            " ORDER BY rowid LIMIT ?",
            (after, BATCH),
        )
    ]


def _restart_identity(conn: Conn, table: str) -> None:
    """An identity column continues after the copied ids."""
    sequence = conn.execute("SELECT pg_get_serial_sequence(?, 'id')", (table,)).fetchone()
    if sequence is None or sequence[0] is None:  # an id that is no identity (web_logins: text)
        return
    highest = f"SELECT COALESCE(MAX(id), 0) + 1 FROM {_quoted(table)}"  # noqa: S608
    conn.execute(
        "SELECT setval(pg_get_serial_sequence(?, 'id'), (" + highest + "), false)", (table,)
    )


async def copy_database(source: Database, target: Database) -> list[TableCopy]:
    """Copy ``source`` (SQLite, at the newest schema) into ``target`` (PostgreSQL, migrated,
    empty); verified table by table before COMMIT. Raises :class:`CopyRefusedError` or
    :class:`CopyMismatchError` (then the target is left as it was)."""
    if source.engine != "sqlite" or target.engine != "postgresql":
        raise CopyRefusedError("db copy moves an SQLite database (DATABASE_PATH) to PostgreSQL")
    source_version = await source.schema_version()
    target_version = await target.schema_version()
    if source_version != target_version:
        raise CopyRefusedError(
            f"the SQLite database is at schema version {source_version} and the target at "
            f"{target_version}: run `linlitong db migrate` on the SQLite database first"
        )
    tables = await source.run(_tables)
    counts = await target.run(lambda conn: _target_counts(conn, tables))
    filled = {t: n for t, n in counts.items() if n}
    if filled:
        listed = ", ".join(f"{t} ({n})" for t, n in sorted(filled.items()))
        raise CopyRefusedError(f"the target database is not empty: {listed}")
    expected: list[TableCopy] = []
    await source.run(lambda conn: conn.execute("BEGIN"))  # one consistent moment to read
    await target.run(lambda conn: conn.execute("BEGIN"))
    try:
        await target.run(lambda conn: conn.execute("SET CONSTRAINTS ALL DEFERRED"))
        for table in tables:
            written = await _copy_table(source, target, table)
            whole = await source.run(functools.partial(_source_sum, table=table))
            if written != whole:  # the pages missed or doubled rows
                raise CopyMismatchError(
                    f"table {table}: {whole.rows} rows in SQLite, {written.rows} rows read"
                )
            expected.append(whole)
        for want in expected:
            got = await target.run(functools.partial(_target_sum, table=want.table))
            if want != got:
                raise CopyMismatchError(
                    f"table {want.table}: {want.rows} rows (checksum {want.checksum[:12]}) in "
                    f"SQLite, {got.rows} rows (checksum {got.checksum[:12]}) in PostgreSQL"
                )
        await target.run(lambda conn: conn.execute("COMMIT"))  # deferred foreign keys: here
    except BaseException:
        await target.run(lambda conn: conn.execute("ROLLBACK"))
        raise
    finally:
        await source.run(lambda conn: conn.execute("COMMIT"))
    logger.info("copied %d tables, %d rows", len(expected), sum(c.rows for c in expected))
    return expected


async def _copy_table(source: Database, target: Database, table: str) -> TableCopy:
    columns = await source.run(lambda conn: _columns(conn, table))
    check = Checksum()
    after = -(1 << 63)  # rowids may be negative: a chat's id is its table's rowid
    while True:
        page = await source.run(functools.partial(_page, table=table, columns=columns, after=after))
        if not page:
            break
        after = int(page[-1][0])
        rows = [row[1:] for row in page]
        check.add(rows)
        await target.run(functools.partial(copy_rows, table=table, columns=columns, rows=rows))
    if "id" in columns:
        await target.run(lambda conn: _restart_identity(conn, table))
    return TableCopy(table, check.rows, check.hexdigest())


def _source_sum(conn: Conn, table: str) -> TableCopy:
    """The whole SQLite table in one scan (sqlite3 reads rows as they are iterated)."""
    columns = _columns(conn, table)
    check = Checksum()
    select = f"SELECT {', '.join(_quoted(c) for c in columns)} FROM {_quoted(table)}"  # noqa: S608
    check.add(conn.execute(select))
    return TableCopy(table, check.rows, check.hexdigest())


def _target_sum(conn: Conn, table: str) -> TableCopy:
    columns = [
        str(r[0])
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    ]
    check = Checksum()
    select = f"SELECT {', '.join(_quoted(c) for c in columns)} FROM {_quoted(table)}"  # noqa: S608
    for rows in stream(conn, select, BATCH):
        check.add(rows)
    return TableCopy(table, check.rows, check.hexdigest())
