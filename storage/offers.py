"""Offers (登记提示): an untagged message that reads like a problem, and the answer to it.

An offer is answered once. :meth:`OfferRepository.accept` moves it from ``open`` to
``accepted`` with ``UPDATE … WHERE status = 'open'`` and opens the ticket in the same
transaction (``storage.tickets``' own opening step), so two presses, or a press replayed
after a crash, cannot open two tickets. The resident's text is kept until the offer is
answered or expires, then blanked: the ticket holds it from then on.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from storage.db import Conn, Database, Row, from_db_time, to_db_time
from storage.models import MediaItem, NewTicket, Ticket
from storage.tickets import OnOpened
from storage.tickets import open_in as open_ticket_in


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    EXPIRED = "expired"


@dataclass(frozen=True)
class OfferDraft:
    """What an offer keeps of the resident's message, and the categories it offers."""

    chat_id: int
    message_id: int
    grid_id: int
    writer_id: int | None
    writer_name: str
    text: str
    sent_at: datetime
    categories: tuple[str, ...]
    created_at: datetime
    thread_id: int | None = None
    media: tuple[MediaItem, ...] = ()
    media_group_id: str | None = None


@dataclass(frozen=True)
class Offer:
    id: int
    chat_id: int
    message_id: int
    thread_id: int | None
    grid_id: int
    writer_id: int | None
    writer_name: str
    text: str
    media: tuple[MediaItem, ...]
    media_group_id: str | None
    sent_at: datetime
    categories: tuple[str, ...]
    offer_message_id: int | None
    created_at: datetime
    status: OfferStatus
    accepted_at: datetime | None
    accepted_by: int | None
    ticket_id: int | None

    @classmethod
    def from_row(cls, row: Row) -> Offer:
        sent_at, created_at = from_db_time(row["sent_at"]), from_db_time(row["created_at"])
        assert sent_at is not None and created_at is not None
        return cls(
            id=row["id"],
            chat_id=row["chat_id"],
            message_id=row["message_id"],
            thread_id=row["thread_id"],
            grid_id=row["grid_id"],
            writer_id=row["writer_id"],
            writer_name=row["writer_name"],
            text=row["text"],
            media=tuple(MediaItem(*item) for item in json.loads(row["media"])),
            media_group_id=row["media_group_id"],
            sent_at=sent_at,
            categories=tuple(json.loads(row["categories"])),
            offer_message_id=row["offer_message_id"],
            created_at=created_at,
            status=OfferStatus(row["status"]),
            accepted_at=from_db_time(row["accepted_at"]),
            accepted_by=row["accepted_by"],
            ticket_id=row["ticket_id"],
        )


@dataclass(frozen=True)
class Acceptance:
    """What a press did: ``ticket`` opened (``created``), or why not (``status`` as it is now;
    ``ticket`` then the one an earlier press opened, if any)."""

    status: OfferStatus
    ticket: Ticket | None = None
    created: bool = False


@dataclass(frozen=True)
class OfferCounts:
    made: int = 0  # offers posted in the period
    accepted: int = 0  # offers a resident or officer turned into a ticket in the period

    def __bool__(self) -> bool:
        return bool(self.made or self.accepted)

    def __add__(self, other: OfferCounts) -> OfferCounts:
        return OfferCounts(self.made + other.made, self.accepted + other.accepted)


_BLANKED = "text = '', media = '[]'"  # what an answered or expired offer forgets
_EXPIRE_OLD = (
    f"UPDATE offers SET status = 'expired', {_BLANKED}"  # noqa: S608 - fixed SQL
    " WHERE status = 'open' AND created_at <= ?"
)


class OfferRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- the per-group switch (/offers off|on) --------------------------------------------------

    async def enabled(self, chat_id: int) -> bool:
        """Whether a chat gets offers (a chat the bot never bound: yes, it is asked nowhere)."""
        value = await self._db.fetch_value("SELECT offers FROM chats WHERE chat_id = ?", (chat_id,))
        return value is None or bool(value)

    async def set_enabled(self, chat_id: int, on: bool, now: datetime) -> bool:
        """Turn offers on or off in a bound chat; False if the chat is not bound."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE chats SET offers = ?, updated_at = ? WHERE chat_id = ? AND active = 1",
                (int(on), to_db_time(now), chat_id),
            )
            return cursor.rowcount > 0

    # -- making one ---------------------------------------------------------------------------

    async def create(
        self, draft: OfferDraft, *, interval: timedelta, lifetime: timedelta
    ) -> Offer | None:
        """Record an offer, unless the chat had one within ``interval`` or the message has one
        already (None). Offers older than ``lifetime`` still open expire here, everywhere."""
        return await self._db.atomic(lambda conn: _create(conn, draft, interval, lifetime))

    async def set_message(self, offer_id: int, message_id: int) -> None:
        """The bot's question went out as ``message_id``."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE offers SET offer_message_id = ? WHERE id = ?", (message_id, offer_id)
            )

    async def withdraw(self, offer_id: int) -> None:
        """The question could not be sent: forget the offer (the chat's interval too)."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM offers WHERE id = ? AND status = 'open'", (offer_id,))

    # -- reading ------------------------------------------------------------------------------

    async def get(self, offer_id: int) -> Offer | None:
        row = await self._db.fetch_one("SELECT * FROM offers WHERE id = ?", (offer_id,))
        return None if row is None else Offer.from_row(row)

    async def by_message(self, chat_id: int, message_id: int) -> Offer | None:
        """The offer made for a resident's message, or asked by the bot's ``message_id``."""
        row = await self._db.fetch_one(
            "SELECT * FROM offers WHERE chat_id = ? AND (message_id = ? OR offer_message_id = ?)"
            " ORDER BY id LIMIT 1",
            (chat_id, message_id, message_id),
        )
        return None if row is None else Offer.from_row(row)

    # -- answering ----------------------------------------------------------------------------

    async def accept(
        self,
        offer_id: int,
        ticket: NewTicket,
        *,
        accepted_by: int | None,
        opened_after: datetime,
        duplicates_since: datetime | None = None,
        then: OnOpened | None = None,
    ) -> Acceptance:
        """Open ``ticket`` for an open offer made after ``opened_after``, in one transaction with
        the move to ``accepted`` (the receipt's outbox row included). An offer already answered
        gives its ticket; one made before ``opened_after`` expires now."""
        return await self._db.atomic(
            lambda conn: _accept(
                conn, offer_id, ticket, accepted_by, opened_after, duplicates_since, then
            )
        )

    async def settle(self, offer_id: int, ticket_id: int, now: datetime) -> bool:
        """An open offer whose message became a ticket another way (an edit adding a tag)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE offers SET status = 'accepted', accepted_at = ?, ticket_id = ?, {_BLANKED}"  # noqa: S608
                " WHERE id = ? AND status = 'open'",
                (to_db_time(now), ticket_id, offer_id),
            )
            return cursor.rowcount > 0

    async def expire_before(self, moment: datetime) -> int:
        """Expire the open offers made by ``moment`` and forget the residents' words in them."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(_EXPIRE_OLD, (to_db_time(moment),))
            return cursor.rowcount

    async def expire(self, offer_id: int) -> bool:
        """Mark an open offer expired (its question could not be answered any more)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE offers SET status = 'expired', {_BLANKED}"  # noqa: S608
                " WHERE id = ? AND status = 'open'",
                (offer_id,),
            )
            return cursor.rowcount > 0

    # -- counting -----------------------------------------------------------------------------

    async def counts(
        self, start: datetime, end: datetime, grid_ids: Collection[int] | None = None
    ) -> dict[int, OfferCounts]:
        """Offers made and accepted in ``[start, end)``, per grid (two indexed statements)."""
        where, params = _grids(grid_ids)
        span = (to_db_time(start), to_db_time(end))
        made = await self._db.fetch_all(
            f"SELECT grid_id, COUNT(*) FROM offers WHERE created_at >= ? AND created_at < ?{where}"  # noqa: S608
            " GROUP BY grid_id",
            (*span, *params),
        )
        accepted = await self._db.fetch_all(
            "SELECT grid_id, COUNT(*) FROM offers WHERE accepted_at IS NOT NULL"  # noqa: S608
            f" AND accepted_at >= ? AND accepted_at < ?{where} GROUP BY grid_id",
            (*span, *params),
        )
        result: dict[int, OfferCounts] = {}
        for grid_id, count in made:
            result[grid_id] = OfferCounts(made=int(count))
        for grid_id, count in accepted:
            result[grid_id] = result.get(grid_id, OfferCounts()) + OfferCounts(accepted=int(count))
        return result


def _grids(grid_ids: Collection[int] | None) -> tuple[str, Sequence[Any]]:
    if grid_ids is None:
        return "", ()
    ids = list(grid_ids)
    if not ids:
        return " AND 0", ()
    return f" AND grid_id IN ({', '.join('?' for _ in ids)})", ids


_INSERT = (
    "INSERT INTO offers (chat_id, message_id, thread_id, grid_id, writer_id, writer_name, text,"
    " media, media_group_id, sent_at, categories, created_at) VALUES"
    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO NOTHING"
    " RETURNING *"
)


def _create(
    conn: Conn, draft: OfferDraft, interval: timedelta, lifetime: timedelta
) -> Offer | None:
    now = draft.created_at
    conn.execute(_EXPIRE_OLD, (to_db_time(now - lifetime),))
    if interval > timedelta(0):
        recent = conn.execute(
            "SELECT 1 FROM offers WHERE chat_id = ? AND created_at > ? LIMIT 1",
            (draft.chat_id, to_db_time(now - interval)),
        ).fetchone()
        if recent is not None:
            return None
    media = json.dumps([[m.message_id, m.kind, m.file_id, m.file_unique_id] for m in draft.media])
    row = conn.execute(
        _INSERT,
        (
            draft.chat_id,
            draft.message_id,
            draft.thread_id,
            draft.grid_id,
            draft.writer_id,
            draft.writer_name,
            draft.text,
            media,
            draft.media_group_id,
            to_db_time(draft.sent_at),
            json.dumps(list(draft.categories)),
            to_db_time(now),
        ),
    ).fetchone()
    return None if row is None else Offer.from_row(row)


def _accept(
    conn: Conn,
    offer_id: int,
    draft: NewTicket,
    accepted_by: int | None,
    opened_after: datetime,
    duplicates_since: datetime | None,
    then: OnOpened | None,
) -> Acceptance:
    stamp = to_db_time(draft.created_at)
    moved = conn.execute(
        f"UPDATE offers SET status = 'accepted', accepted_at = ?, accepted_by = ?, {_BLANKED}"  # noqa: S608
        " WHERE id = ? AND status = 'open' AND created_at > ?",
        (stamp, accepted_by, offer_id, to_db_time(opened_after)),
    ).rowcount
    if not moved:
        return _not_accepted(conn, offer_id)
    ticket, created = open_ticket_in(conn, draft, True, duplicates_since, then)
    conn.execute("UPDATE offers SET ticket_id = ? WHERE id = ?", (ticket.id, offer_id))
    return Acceptance(OfferStatus.ACCEPTED, ticket, created)


def _not_accepted(conn: Conn, offer_id: int) -> Acceptance:
    row = conn.execute("SELECT status, ticket_id FROM offers WHERE id = ?", (offer_id,)).fetchone()
    if row is None:
        return Acceptance(OfferStatus.EXPIRED)
    if row["status"] == OfferStatus.OPEN:  # too old to answer: it expires now
        conn.execute(
            f"UPDATE offers SET status = 'expired', {_BLANKED} WHERE id = ?",  # noqa: S608
            (offer_id,),
        )
        return Acceptance(OfferStatus.EXPIRED)
    ticket = None
    if row["ticket_id"] is not None:
        found = conn.execute("SELECT * FROM tickets WHERE id = ?", (row["ticket_id"],)).fetchone()
        ticket = None if found is None else Ticket.from_row(found)
    return Acceptance(OfferStatus(row["status"]), ticket)
