"""Telegram's flood windows kept in the database, for instances that share one bot.

Telegram counts a bot's messages whichever process sends them: ~30 a second overall, 20 a
minute in one group. Instances on one PostgreSQL database therefore book every counted request
here (``flood_sends``) in one short transaction: the bot-wide lock
(:meth:`Database.flood_lock`), what the windows hold, the caller's decision, and the row if
it decided to send. A RetryAfter Telegram gave one instance is kept for all (``flood_blocks``).

Times are integer milliseconds on the instances' common clock (bot.ratelimit chooses it); the
rules (limits, spans, paid broadcast) are the caller's: this module only counts and keeps.
On SQLite the budget stays in memory (:func:`ledger_for` gives None): one process, no traffic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from storage.db import Conn, Database, Row


@dataclass(frozen=True)
class FloodAsk:
    """One booking's question. Every ``*_since`` is exclusive: stamps after it count."""

    chat_id: int | None
    since: int  # the start of the bot-wide windows (free and paid)
    free_limit: int  # messages a second at the free rate
    paid_limit: int  # with allow_paid_broadcast (0: not used)
    chat_since: int  # the start of the chat's window
    chat_limit: int
    prune_before: int | None = None  # forget sends and blocks older than this, if given


@dataclass(frozen=True)
class FloodView:
    """What the windows held when a booking looked (its own row not included)."""

    free: tuple[int, ...]  # the newest ``free_limit`` free sends, oldest first
    paid_full_since: int | None  # the ``paid_limit``-th newest paid send: the window is full
    chat: tuple[int, ...]  # the newest ``chat_limit`` sends to the chat, oldest first
    blocked_until: int | None  # a RetryAfter for the chat, if one was given


class Decision(Protocol):
    @property
    def counted(self) -> bool: ...

    @property
    def paid(self) -> bool: ...

    @property
    def stamp(self) -> int:
        """When the counted message left (decided under the lock)."""
        ...


D = TypeVar("D", bound=Decision)

_BOOK = "INSERT INTO flood_sends (chat_id, at, paid) VALUES (?, ?, ?)"
_LOOK = (
    "SELECT 'free', at FROM (SELECT at FROM flood_sends WHERE paid = 0 AND at > ?"
    " ORDER BY at DESC LIMIT ?) AS f"
    " UNION ALL SELECT 'paid', at FROM (SELECT at FROM flood_sends WHERE paid = 1 AND at > ?"
    " ORDER BY at DESC LIMIT ? OFFSET ?) AS p"
    " UNION ALL SELECT 'chat', at FROM (SELECT at FROM flood_sends WHERE chat_id = ? AND at > ?"
    " ORDER BY at DESC LIMIT ?) AS c"
    " UNION ALL SELECT 'block', until FROM flood_blocks WHERE chat_id = ?"
)


def _look(ask: FloodAsk) -> tuple[str, tuple[object, ...]]:
    paying = ask.paid_limit > 0
    return _LOOK, (
        ask.since,
        ask.free_limit,
        ask.since,
        1 if paying else 0,
        max(0, ask.paid_limit - 1),
        ask.chat_id,
        ask.chat_since,
        ask.chat_limit,
        ask.chat_id,
    )


def _view(rows: list[Row]) -> FloodView:
    found: dict[str, list[int]] = {"free": [], "paid": [], "chat": [], "block": []}
    for row in rows:
        found[str(row[0])].append(int(row[1]))
    return FloodView(
        free=tuple(sorted(found["free"])),
        paid_full_since=found["paid"][0] if found["paid"] else None,
        chat=tuple(sorted(found["chat"])),
        blocked_until=found["block"][0] if found["block"] else None,
    )


class FloodLedger:
    """The shared windows of one bot, in the database every instance uses."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def book(self, ask: FloodAsk, decide: Callable[[FloodView], D]) -> tuple[FloodView, D]:
        """Under the bot-wide lock: look at the windows, ``decide`` (quick and pure, run in the
        engine's thread: it also reads the clock, so the stamp is taken under the lock), and
        record the message if it was counted; one hand-over."""
        db = self._db

        def work(conn: Conn) -> tuple[FloodView, D]:
            lock = db.flood_lock()
            try:
                # BEGIN, the lock, the look: one round trip on PostgreSQL; the row and COMMIT: one
                view = _view(
                    db.batch_in(conn, [(db.BEGIN, ()), *([lock] if lock else []), _look(ask)])
                )
                decision = decide(view)
                finish: list[tuple[str, Sequence[object]]] = []
                if decision.counted:
                    finish.append((_BOOK, (ask.chat_id, decision.stamp, 1 if decision.paid else 0)))
                if ask.prune_before is not None:
                    finish.append(("DELETE FROM flood_sends WHERE at < ?", (ask.prune_before,)))
                    finish.append(("DELETE FROM flood_blocks WHERE until < ?", (ask.prune_before,)))
                db.batch_in(conn, [*finish, ("COMMIT", ())])
            except BaseException:
                with contextlib.suppress(Exception):  # none is open if BEGIN itself failed
                    conn.execute("ROLLBACK")
                raise
            return view, decision

        return await db.run(work)

    async def block(self, chat_id: int, until: int) -> None:
        """Telegram said RetryAfter for this chat: no instance sends there before ``until``."""
        await self._db.run(  # one statement: it commits by itself
            lambda conn: conn.execute(
                "INSERT INTO flood_blocks (chat_id, until) VALUES (?1, ?2)"
                " ON CONFLICT (chat_id) DO UPDATE SET until = CASE"
                " WHEN flood_blocks.until > ?2 THEN flood_blocks.until ELSE ?2 END",
                (chat_id, until),
            )
        )

    async def clock_seconds(self) -> float:
        """The database's clock, in seconds since the epoch (the instances' common time)."""
        return await self._db.clock_seconds()


def ledger_for(db: Database) -> FloodLedger | None:
    """The shared windows where instances may share the database (PostgreSQL); None on SQLite,
    which serves one process: its budget stays in memory, with no database work per message."""
    return FloodLedger(db) if db.engine == "postgresql" else None
