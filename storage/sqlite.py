"""SQLite, the embedded engine: one aiosqlite connection, WAL, a file that is 0600."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar, cast

import aiosqlite

from storage.db import POLLER_LOCK, AsyncConn, Conn, Database, DatabaseMissingError
from storage.files import create_private_file, prepare_backup_file, prepare_database_file

BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")
# The chats claimed in this process, per database file (SqliteDatabase.try_claim_chat)
_CLAIMED_CHATS: dict[str, set[int]] = {}


class SqliteDatabase(Database):
    engine: ClassVar[str] = "sqlite"
    # takes the write lock at once: two writers never deadlock upgrading a read lock
    BEGIN: ClassVar[str] = "BEGIN IMMEDIATE"

    def __init__(self, conn: aiosqlite.Connection, path: Path | str) -> None:
        super().__init__(str(path))
        self._conn = conn
        self.path = path
        self._claimed_chats: set[int] = set()  # try_claim_chat: the chats this object holds

    @classmethod
    async def open(
        cls, path: Path | str, *, migrate: bool = True, create: bool = True
    ) -> SqliteDatabase:
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
        for chat_id in list(self._claimed_chats):  # as a closing session frees its locks
            await self.release_chat(chat_id)
        await self._conn.close()

    def _async_conn(self) -> AsyncConn:
        return cast(AsyncConn, self._conn)

    async def _in_thread(self, work: Callable[[Conn], T]) -> T:
        # aiosqlite's own way to run a function in its thread (it has no public one)
        result: T = await self._conn._execute(work, self._conn._conn)  # type: ignore[no-untyped-call]
        return result

    # The poller lock: an exclusive flock on a file beside the database, held by this object's
    # open file (None: not held). The kernel frees it when the process ends, however it ends.
    _poller_fd: int | None = None

    @property
    def poller_lock(self) -> str:
        return f"{self.path}.poller.lock"

    async def _take_lock(self, name: str) -> bool:
        """The leader is this process: SQLite serves one process (the poller lock sees to it
        when polling). The poller lock is the lock file :attr:`poller_lock`, ``0600``."""
        if name != POLLER_LOCK or str(self.path) == ":memory:":
            return True
        fd = await asyncio.to_thread(_lock_file, Path(self.poller_lock))
        if fd is None:
            return False
        self._poller_fd = fd
        return True

    async def _release_lock(self, name: str) -> None:
        if name != POLLER_LOCK or self._poller_fd is None:
            return
        fd, self._poller_fd = self._poller_fd, None
        await asyncio.to_thread(os.close, fd)  # closing the file releases its flock

    # The inbox's per-chat claims: SQLite serves one process, so a set per database file in this
    # process is the lock (two objects on one file, as tests open them, still exclude each other).

    def _chat_key(self) -> str:
        path = str(self.path)
        return f":memory:{id(self)}" if path == ":memory:" else os.path.abspath(path)

    async def try_claim_chat(self, chat_id: int) -> bool:
        held = _CLAIMED_CHATS.setdefault(self._chat_key(), set())
        if chat_id in held:
            return False
        held.add(chat_id)
        self._claimed_chats.add(chat_id)
        return True

    async def release_chat(self, chat_id: int) -> None:
        if chat_id not in self._claimed_chats:
            return
        self._claimed_chats.discard(chat_id)
        held = _CLAIMED_CHATS.get(self._chat_key(), set())
        held.discard(chat_id)
        if not held:
            _CLAIMED_CHATS.pop(self._chat_key(), None)

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


def _lock_file(path: Path) -> int | None:
    """``path`` (made ``0600`` if new) opened and flock'ed exclusively without waiting; its
    descriptor, or None when another open file holds the lock (this process's included)."""
    create_private_file(path)
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd
