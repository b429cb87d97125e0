"""The staff web page's own rows: single-use login links, sessions, and the audit log.

Everything else the page shows it only reads. A login link is used once:
:meth:`WebRepository.use_login` wins with ``UPDATE … WHERE used_at IS NULL AND expires_at > now
RETURNING``, so two browsers posting the same link at once (or two instances of the page) open
one session, never two. A session opens in one transaction with its audit row, so no login is
ever unaudited. Cookies hold a random token; only its hash is kept here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Conn, Database, Row, from_db_time, time_at, to_db_time
from storage.vocabulary import AuditAction

FORGET_AFTER = timedelta(days=1)  # logins and sessions are forgotten this long after expiry


@dataclass(frozen=True)
class WebLogin:
    """A login link /web handed out: whose, with which grants (JSON), until when, used when."""

    id: str
    user_id: int
    user_name: str
    grants: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> WebLogin:
        return cls(
            id=str(row["id"]),
            user_id=int(row["user_id"]),
            user_name=str(row["user_name"]),
            grants=str(row["grants"]),
            created_at=time_at(row, "created_at"),
            expires_at=time_at(row, "expires_at"),
            used_at=from_db_time(row["used_at"]),
        )


@dataclass(frozen=True)
class WebSession:
    """A logged-in browser: the grants its login carried (checked again at every request)."""

    user_id: int
    user_name: str
    grants: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> WebSession:
        return cls(
            user_id=int(row["user_id"]),
            user_name=str(row["user_name"]),
            grants=str(row["grants"]),
            created_at=time_at(row, "created_at"),
            expires_at=time_at(row, "expires_at"),
        )


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    user_id: int | None
    user_name: str
    action: str  # an AuditAction
    target: str
    address: str

    @classmethod
    def from_row(cls, row: Row) -> AuditEntry:
        user_id = row["user_id"]
        return cls(
            id=int(row["id"]),
            at=time_at(row, "at"),
            user_id=None if user_id is None else int(user_id),
            user_name=str(row["user_name"]),
            action=str(row["action"]),
            target=str(row["target"]),
            address=str(row["address"]),
        )


_USE_LOGIN = (
    "UPDATE web_logins SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?"
    " RETURNING id, user_id, user_name, grants, created_at, expires_at, used_at"
)
_INSERT_AUDIT = (
    "INSERT INTO web_audit (at, user_id, user_name, action, target, address)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_AUDIT_COLUMNS = "id, at, user_id, user_name, action, target, address"


class WebRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- login links (/web) -------------------------------------------------------------------

    async def create_login(
        self,
        login_id: str,
        user_id: int,
        user_name: str,
        grants: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Keep a login link /web is about to hand out."""
        values = (login_id, user_id, user_name, grants, to_db_time(now), to_db_time(expires_at))

        def create(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO web_logins (id, user_id, user_name, grants, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._db.atomic(create)

    async def logins_since(self, user_id: int, since: datetime) -> int:
        """How many links the user was given after ``since`` (the rate limit counts them)."""
        value = await self._db.fetch_value(
            "SELECT COUNT(*) FROM web_logins WHERE user_id = ? AND created_at > ?",
            (user_id, to_db_time(since)),
        )
        return int(value or 0)

    async def first_login_since(self, user_id: int, since: datetime) -> datetime | None:
        """When the user's earliest link after ``since`` was made (when the limit frees one)."""
        value = await self._db.fetch_value(
            "SELECT MIN(created_at) FROM web_logins WHERE user_id = ? AND created_at > ?",
            (user_id, to_db_time(since)),
        )
        return from_db_time(value)

    async def use_login(self, login_id: str, now: datetime) -> WebLogin | None:
        """Use a link once: the login, or None when it is unknown, used already or expired."""
        stamp = to_db_time(now)

        def use(conn: Conn) -> WebLogin | None:
            row = conn.execute(_USE_LOGIN, (stamp, login_id, stamp)).fetchone()
            return None if row is None else WebLogin.from_row(row)

        return await self._db.atomic(use)

    # -- sessions -----------------------------------------------------------------------------

    async def open_session(
        self,
        token_hash: str,
        login: WebLogin,
        now: datetime,
        expires_at: datetime,
        address: str,
    ) -> None:
        """The session a used login opens, and its audit row ('login'), in one transaction."""
        stamp = to_db_time(now)

        def open_(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO web_sessions (token_hash, user_id, user_name, grants, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token_hash,
                    login.user_id,
                    login.user_name,
                    login.grants,
                    stamp,
                    to_db_time(expires_at),
                ),
            )
            conn.execute(
                _INSERT_AUDIT,
                (stamp, login.user_id, login.user_name, str(AuditAction.LOGIN), "", address),
            )

        await self._db.atomic(open_)

    async def session(self, token_hash: str, now: datetime) -> WebSession | None:
        """The session of a cookie; None when unknown, ended or expired."""
        row = await self._db.fetch_one(
            "SELECT user_id, user_name, grants, created_at, expires_at FROM web_sessions"
            " WHERE token_hash = ? AND ended_at IS NULL AND expires_at > ?",
            (token_hash, to_db_time(now)),
        )
        return None if row is None else WebSession.from_row(row)

    async def end_session(self, token_hash: str, now: datetime) -> None:
        """Logged out, or access ended: the cookie opens nothing any more."""
        stamp = to_db_time(now)

        def end(conn: Conn) -> None:
            conn.execute(
                "UPDATE web_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL",
                (stamp, token_hash),
            )

        await self._db.atomic(end)

    # -- the audit log ------------------------------------------------------------------------

    async def audit(
        self,
        now: datetime,
        user_id: int | None,
        user_name: str,
        action: str,
        target: str,
        address: str,
    ) -> None:
        """One thing someone did on the page (an :class:`AuditAction`), or a refused login."""
        values = (to_db_time(now), user_id, user_name, str(action), target, address)

        def write(conn: Conn) -> None:
            conn.execute(_INSERT_AUDIT, values)

        await self._db.atomic(write)

    async def audit_page(self, limit: int, before_id: int | None = None) -> list[AuditEntry]:
        """Up to ``limit`` entries, newest first; the next page starts before the last id."""
        if before_id is None:
            rows = await self._db.fetch_all(
                f"SELECT {_AUDIT_COLUMNS} FROM web_audit ORDER BY id DESC LIMIT ?",  # noqa: S608
                (limit,),
            )
        else:
            rows = await self._db.fetch_all(
                f"SELECT {_AUDIT_COLUMNS} FROM web_audit WHERE id < ?"  # noqa: S608
                " ORDER BY id DESC LIMIT ?",
                (before_id, limit),
            )
        return [AuditEntry.from_row(r) for r in rows]

    # -- housekeeping -------------------------------------------------------------------------

    async def forget_expired(self, now: datetime) -> int:
        """Drop logins and sessions that expired more than a day ago; how many went."""
        cutoff = (to_db_time(now - FORGET_AFTER),)

        def forget(conn: Conn) -> int:
            logins = conn.execute("DELETE FROM web_logins WHERE expires_at < ?", cutoff)
            sessions = conn.execute("DELETE FROM web_sessions WHERE expires_at < ?", cutoff)
            return int(logins.rowcount) + int(sessions.rowcount)

        return await self._db.atomic(forget)
