"""Tickets, their files and their history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import AsyncConn, Conn, Database, Rollback, first, to_db_time, unrecorded_scope
from storage.grids import active_binding_in
from storage.models import ChatBinding, MediaItem, NewTicket, Ticket, TicketEvent
from storage.outbox import (
    CLAIM_ROWS,
    OutboxDraft,
    OutboxItem,
    ReceiptFacts,
    claim_chat_in,
    queue,
    queue_in,
)
from storage.vocabulary import OPEN_STATUSES, EventKind, Status


@dataclass(frozen=True)
class TicketChange:
    """New content for a ticket whose resident edited the message."""

    category: str
    labels: tuple[str, ...]
    text: str
    body: str
    estate: str | None
    building: str | None
    unit: str | None
    room: str | None
    response_due: datetime
    resolution_due: datetime


@dataclass(frozen=True)
class EventDraft:
    """A history row to write with a change: who did what, and why."""

    kind: EventKind
    actor_id: int | None
    actor_name: str
    at: datetime
    note: str = ""


# Columns a transition may set. Names come from this code, never from input.
_SETTABLE = frozenset(
    {
        "followup_due",
        "followup_asked_at",
        "followup_reminded_at",
        "rated_at",
        "assignee_id",
        "assignee_name",
        "accepted_at",
        "resolved_at",
        "closed_at",
        "reopen_count",
        "satisfaction",
        "duplicate_of",
    }
)


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a list shows; every field narrows it."""

    grid_ids: tuple[int, ...] | None = None  # None = every grid
    statuses: tuple[Status, ...] | None = None
    category: str | None = None
    assignee_id: int | None = None
    overdue_at: datetime | None = None  # open and past the resolution deadline at this moment
    reporter_id: int | None = None  # reporter or co-reporter


@dataclass(frozen=True)
class _Opening:
    """What the opening transaction did: the chat's binding (when it was read there), the
    ticket (None: nothing drafted, rolled back) and the chat's due rows read under its claim."""

    binding: ChatBinding | None
    ticket: Ticket | None = None
    created: bool = False
    rows: list[OutboxItem] | None = None

    @property
    def result(self) -> tuple[ChatBinding | None, tuple[Ticket, bool] | None]:
        return self.binding, None if self.ticket is None else (self.ticket, self.created)


class TicketRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(
        self,
        draft: NewTicket,
        *,
        receipt: bool = False,
        duplicates_since: datetime | None = None,
        then: OnOpened | None = None,
    ) -> tuple[Ticket, bool]:
        """Insert with its opening event, files and (``receipt``) its receipt's outbox row, in one
        transaction and one hand-over to sqlite's thread; ``(existing, False)`` if the message
        has a ticket already. The receipt's row carries what the receipt says besides the
        ticket (:class:`~storage.outbox.ReceiptFacts`): its files, and the open tickets of the
        same place and category since ``duplicates_since`` (none without it); ``then`` (a new
        ticket only) queues what else it owes, in the same transaction."""
        _, opened = await self._open(
            draft.chat_id, lambda conn: (None, draft), receipt, duplicates_since, then
        )
        assert opened is not None
        return opened

    async def open_if_bound(
        self,
        chat_id: int,
        draft_for: Callable[[ChatBinding | None], NewTicket | None],
        *,
        receipt: bool = False,
        duplicates_since: datetime | None = None,
        then: OnOpened | None = None,
    ) -> tuple[ChatBinding | None, tuple[Ticket, bool] | None]:
        """The chat's active binding, and the ticket ``draft_for(binding)`` drafts opened as
        :meth:`open` opens it, in the same hand-over (the intake's hot path). ``draft_for``
        runs in the engine's thread (pure and quick); when it drafts none (an unbound chat, say),
        nothing is written and the second value is None."""

        def make(conn: Conn) -> tuple[ChatBinding | None, NewTicket | None]:
            binding = active_binding_in(conn, chat_id)
            return binding, draft_for(binding)

        return await self._open(chat_id, make, receipt, duplicates_since, then)

    async def _open(
        self,
        chat_id: int,
        make: Callable[[Conn], tuple[ChatBinding | None, NewTicket | None]],
        receipt: bool,
        duplicates_since: datetime | None,
        then: OnOpened | None,
    ) -> tuple[ChatBinding | None, tuple[Ticket, bool] | None]:
        db = self._db
        adopter = db.outbox_adopter if receipt else None
        # The running sender takes the receipt from here: the chat claimed and its due rows
        # read in this transaction, no read of the sender's own (storage.outbox.Adopter).
        claim = adopter is not None and adopter.reserve(chat_id)

        def opening(conn: Conn) -> _Opening:
            binding, draft = make(conn)
            if draft is None:
                raise Rollback(_Opening(binding))
            ticket, created = open_in(conn, draft, receipt, duplicates_since, then)
            rows = None
            if claim and created:
                rows = claim_chat_in(conn, db, chat_id, draft.created_at, CLAIM_ROWS, ticket)
            return _Opening(binding, ticket, created, rows)

        if adopter is None:
            return (await db.atomic(opening)).result
        # A cancelled await does not stop the engine's thread, which runs on to COMMIT (and,
        # on PostgreSQL, keeps the chat's advisory lock): the transaction is shielded and
        # awaited to its end, then handed over or let go as if nothing had happened.
        # (a task of its own: the handler's update is recorded with the ticket all the same)
        work = asyncio.ensure_future(db.atomic(opening, scope=unrecorded_scope()))
        cancelled: asyncio.CancelledError | None = None
        while not work.done():
            try:
                await asyncio.wait({work})  # (a cancelled wait leaves ``work`` running)
            except asyncio.CancelledError as exc:
                cancelled = exc
        error = None if work.cancelled() else work.exception()
        if work.cancelled() or error is not None:
            if claim:
                try:
                    await db.release_outbox(chat_id)  # a claim dies with its rolled-back work
                finally:
                    adopter.adopt(chat_id, None, queued=False)
            raise cancelled or error or asyncio.CancelledError()
        done = work.result()
        if claim:
            adopter.adopt(chat_id, done.rows, queued=done.created)
        elif done.created:
            adopter.wake(chat_id)
        if cancelled is not None:
            raise cancelled
        return done.result

    async def get(self, ticket_id: int) -> Ticket | None:
        row = await self._db.fetch_one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        return None if row is None else Ticket.from_row(row)

    async def by_message(self, chat_id: int, message_id: int) -> Ticket | None:
        row = await self._db.fetch_one(
            "SELECT * FROM tickets WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
        )
        return None if row is None else Ticket.from_row(row)

    async def set_receipt(self, ticket_id: int, message_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE tickets SET receipt_message_id = ? WHERE id = ?", (message_id, ticket_id)
            )

    async def apply_edit(
        self,
        ticket_id: int,
        change: TicketChange,
        *,
        actor_id: int | None,
        actor_name: str,
        now: datetime,
    ) -> Ticket | None:
        """Take the resident's edited text while the ticket is still new; ``None`` otherwise."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE tickets SET category = ?, labels = ?, text = ?, body = ?, estate = ?,"
                " building = ?, unit = ?, room = ?, response_due = ?, resolution_due = ?,"
                " updated_at = ? WHERE id = ? AND status = ? AND text <> ?",
                (
                    change.category,
                    json.dumps(list(change.labels), ensure_ascii=False),
                    change.text,
                    change.body,
                    change.estate,
                    change.building,
                    change.unit,
                    change.room,
                    to_db_time(change.response_due),
                    to_db_time(change.resolution_due),
                    to_db_time(now),
                    ticket_id,
                    Status.NEW,
                    change.text,
                ),
            )
            if cursor.rowcount == 0:
                return None
            await _event(
                conn,
                ticket_id,
                now,
                actor_id,
                actor_name,
                EventKind.EDITED,
                Status.NEW,
                Status.NEW,
                "",
            )
            return await _by_id(conn, ticket_id)

    async def add_media(
        self,
        ticket_id: int,
        chat_id: int,
        items: Sequence[MediaItem],
        *,
        actor_id: int | None,
        actor_name: str,
        now: datetime,
    ) -> int:
        """Attach files to a ticket (a later album item); returns how many were new."""
        async with self._db.transaction() as conn:
            added = await _insert_media(conn, ticket_id, chat_id, items, to_db_time(now))
            if added:
                await _media_added(conn, ticket_id, now, actor_id, actor_name, added)
        return added

    async def add_album_item(
        self,
        chat_id: int,
        media_group_id: str,
        item: MediaItem,
        *,
        actor_id: int | None,
        actor_name: str,
        now: datetime,
    ) -> Ticket | None:
        """Attach an album item to the album's ticket, or keep it until the tagged item comes.

        Telegram sends an album as separate messages with no end marker and the caption on any
        one of them, so items may arrive before the ticket exists. One transaction decides.
        """
        stamp = to_db_time(now)
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT id FROM tickets WHERE chat_id = ? AND media_group_id = ?"
                " ORDER BY id LIMIT 1",
                (chat_id, media_group_id),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                await conn.execute(
                    "INSERT INTO album_parts (chat_id, message_id, media_group_id, kind, file_id,"
                    " file_unique_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (chat_id, message_id) DO NOTHING",
                    (
                        chat_id,
                        item.message_id,
                        media_group_id,
                        item.kind,
                        item.file_id,
                        item.file_unique_id,
                        stamp,
                    ),
                )
                return None
            ticket_id = int(row[0])
            if await _insert_media(conn, ticket_id, chat_id, (item,), stamp):
                await _media_added(conn, ticket_id, now, actor_id, actor_name, 1)
            return await _by_id(conn, ticket_id)

    async def forget_album_parts(self, before: datetime) -> int:
        """Drop stashed album items of albums that never carried a tag."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM album_parts WHERE received_at < ?", (to_db_time(before),)
            )
            return cursor.rowcount

    async def media(self, ticket_id: int) -> list[MediaItem]:
        rows = await self._db.fetch_all(
            "SELECT message_id, kind, file_id, file_unique_id FROM ticket_media"
            " WHERE ticket_id = ? ORDER BY message_id, id",
            (ticket_id,),
        )
        return [MediaItem(r[0], r[1], r[2], r[3]) for r in rows]

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        rows = await self._db.fetch_all(
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        )
        return [TicketEvent.from_row(r) for r in rows]

    async def by_receipt(self, chat_id: int, message_id: int) -> Ticket | None:
        row = await self._db.fetch_one(
            "SELECT * FROM tickets WHERE chat_id = ? AND receipt_message_id = ?",
            (chat_id, message_id),
        )
        return None if row is None else Ticket.from_row(row)

    async def transition(
        self,
        ticket_id: int,
        *,
        allowed_from: Sequence[Status],
        to: Status,
        changes: Mapping[str, Any],
        event: EventDraft,
        keep_accepted_at: bool = True,
        messages: Sequence[OutboxDraft] = (),
        then: OnMoved | None = None,
    ) -> Ticket | None:
        """Move a ticket if its status is still one of ``allowed_from``; None if it is not.

        The status check is in the UPDATE itself, so two officers pressing at once cannot both
        win; the event row is written in the same transaction. ``then`` (:data:`OnMoved`) runs
        last in that transaction; when it says no, the move is rolled back and None returned.
        """
        unknown = set(changes) - _SETTABLE
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        sets = ["status = ?", "updated_at = ?"]
        values: list[Any] = [to, to_db_time(event.at)]
        for column, value in changes.items():
            sets.append(f"{column} = ?")
            values.append(to_db_time(value) if isinstance(value, datetime) else value)
        if keep_accepted_at and "accepted_at" not in changes and to != Status.NEW:
            sets.append("accepted_at = COALESCE(accepted_at, ?)")  # the first officer action
            values.append(to_db_time(event.at))
        marks = ", ".join("?" for _ in allowed_from)
        sql = f"UPDATE tickets SET {', '.join(sets)} WHERE id = ? AND status IN ({marks})"  # noqa: S608
        try:
            return await self._transition(
                sql, values, ticket_id, allowed_from, to, event, messages, then
            )
        except _Undone:
            return None

    async def _transition(
        self,
        sql: str,
        values: Sequence[Any],
        ticket_id: int,
        allowed_from: Sequence[Status],
        to: Status,
        event: EventDraft,
        messages: Sequence[OutboxDraft],
        then: OnMoved | None,
    ) -> Ticket | None:
        async with self._db.transaction() as conn:
            status = await status_of(conn, ticket_id)
            if status is None:
                return None
            cursor = await conn.execute(sql, (*values, ticket_id, *allowed_from))
            if cursor.rowcount == 0:
                return None
            await _event(
                conn,
                ticket_id,
                event.at,
                event.actor_id,
                event.actor_name,
                event.kind,
                status,
                to,
                event.note,
            )
            for draft in messages:
                await queue(conn, draft, event.at)
            after = await _by_id(conn, ticket_id)
            if after is not None and then is not None and not await then(conn, after):
                raise _Undone  # rolls the whole move back: nothing changed
            return after

    async def record(self, ticket_id: int, event: EventDraft) -> bool:
        """A history row that changes no status (internal note, progress while in progress)."""
        async with self._db.transaction() as conn:
            status = await status_of(conn, ticket_id)
            if status is None:
                return False
            await conn.execute(
                "UPDATE tickets SET updated_at = ? WHERE id = ?", (to_db_time(event.at), ticket_id)
            )
            await _event(
                conn,
                ticket_id,
                event.at,
                event.actor_id,
                event.actor_name,
                event.kind,
                status,
                status,
                event.note,
            )
        return True

    async def merge_duplicate(
        self, duplicate_id: int, original_id: int, event: EventDraft
    ) -> Ticket | None:
        """Close ``duplicate_id`` as a duplicate of ``original_id``, whose reporters it joins."""
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT id, status, reporter_id, reporter_name FROM tickets WHERE id IN (?, ?)",
                (duplicate_id, original_id),
            ) as cur:
                rows = {r[0]: r for r in await cur.fetchall()}
            dup, original = rows.get(duplicate_id), rows.get(original_id)
            if dup is None or original is None or dup[1] not in OPEN_STATUSES:
                return None
            if original[1] == Status.DUPLICATE:
                return None
            stamp = to_db_time(event.at)
            await conn.execute(
                "UPDATE tickets SET status = ?, duplicate_of = ?, closed_at = ?,"
                " updated_at = ?, accepted_at = COALESCE(accepted_at, ?) WHERE id = ?",
                (Status.DUPLICATE, original_id, stamp, stamp, stamp, duplicate_id),
            )
            reporters = [(dup[2], dup[3])] if dup[2] is not None else []
            async with conn.execute(
                "SELECT user_id, name FROM ticket_reporters WHERE ticket_id = ?", (duplicate_id,)
            ) as cur:
                reporters += [(r[0], r[1]) for r in await cur.fetchall()]
            for user_id, name in reporters:
                if user_id != original[2]:
                    await conn.execute(
                        "INSERT INTO ticket_reporters (ticket_id, user_id, name, added_at)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (original_id, user_id, name, stamp),
                    )
            await _event(
                conn,
                duplicate_id,
                event.at,
                event.actor_id,
                event.actor_name,
                EventKind.DUPLICATE,
                dup[1],
                Status.DUPLICATE,
                f"#{original_id} {event.note}".strip(),
            )
            await _event(
                conn,
                original_id,
                event.at,
                event.actor_id,
                event.actor_name,
                EventKind.MERGED,
                original[1],
                original[1],
                f"#{duplicate_id}",
            )
            return await _by_id(conn, duplicate_id)

    async def add_co_reporter(self, ticket_id: int, user_id: int, name: str, now: datetime) -> bool:
        """A resident says "me too"; False if she already reported or co-reported it."""
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT reporter_id FROM tickets WHERE id = ?", (ticket_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None or row[0] == user_id:
                return False
            cursor = await conn.execute(
                "INSERT INTO ticket_reporters (ticket_id, user_id, name, added_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (ticket_id, user_id, name, to_db_time(now)),
            )
            if cursor.rowcount == 0:
                return False
            await _event(conn, ticket_id, now, user_id, name, EventKind.CO_REPORTER, None, None, "")
        return True

    async def co_reporters(self, ticket_id: int) -> list[tuple[int, str]]:
        rows = await self._db.fetch_all(
            "SELECT user_id, name FROM ticket_reporters WHERE ticket_id = ? ORDER BY added_at",
            (ticket_id,),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    async def is_reporter(self, ticket_id: int, user_id: int) -> bool:
        value = await self._db.fetch_value(
            "SELECT 1 FROM tickets WHERE id = ? AND reporter_id = ?"
            " UNION ALL SELECT 1 FROM ticket_reporters WHERE ticket_id = ? AND user_id = ?"
            " LIMIT 1",
            (ticket_id, user_id, ticket_id, user_id),
        )
        return value is not None

    async def find(
        self, where: TicketFilter, *, limit: int = 10, offset: int = 0
    ) -> tuple[list[Ticket], int]:
        """Newest first, one page, and how many match in all."""
        clauses, params = _filter_sql(where)
        sql_where = " WHERE " + " AND ".join(clauses) if clauses else ""
        total = int(
            await self._db.fetch_value(f"SELECT COUNT(*) FROM tickets t{sql_where}", params)  # noqa: S608
        )
        rows = await self._db.fetch_all(
            f"SELECT t.* FROM tickets t{sql_where} ORDER BY t.id DESC LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit, offset),
        )
        return [Ticket.from_row(r) for r in rows], total

    async def possible_duplicates(
        self, ticket: Ticket, since: datetime, limit: int = 3
    ) -> list[Ticket]:
        """Open tickets of the same grid, category, estate and building opened since ``since``."""
        if not ticket.building and not ticket.estate:
            return []
        rows = await self._db.fetch_all(_DUPLICATES, _duplicates_values(ticket, since, limit))
        return [Ticket.from_row(r) for r in rows]

    async def recent(self, limit: int = 50) -> list[Ticket]:
        rows = await self._db.fetch_all("SELECT * FROM tickets ORDER BY id DESC LIMIT ?", (limit,))
        return [Ticket.from_row(r) for r in rows]

    async def count(self) -> int:
        return int(await self._db.fetch_value("SELECT COUNT(*) FROM tickets"))


def _filter_sql(where: TicketFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if where.grid_ids is not None:
        if not where.grid_ids:
            return ["0"], []
        clauses.append(f"t.grid_id IN ({', '.join('?' for _ in where.grid_ids)})")
        params += where.grid_ids
    if where.statuses:
        clauses.append(f"t.status IN ({', '.join('?' for _ in where.statuses)})")
        params += where.statuses
    if where.category:
        clauses.append("t.category = ?")
        params.append(where.category)
    if where.assignee_id is not None:
        clauses.append("t.assignee_id = ?")
        params.append(where.assignee_id)
    if where.overdue_at is not None:
        clauses.append("t.status IN ('new', 'accepted') AND t.resolution_due < ?")
        params.append(to_db_time(where.overdue_at))
    if where.reporter_id is not None:
        clauses.append(
            "(t.reporter_id = ? OR t.id IN"
            " (SELECT ticket_id FROM ticket_reporters WHERE user_id = ?))"
        )
        params += [where.reporter_id, where.reporter_id]
    return clauses, params


_INSERT_TICKET = (
    "INSERT INTO tickets (grid_id, chat_id, message_id, thread_id, media_group_id, source,"
    " category, labels, text, body, estate, building, unit, room, reporter_id, reporter_name,"
    " status, created_at, updated_at, response_due, resolution_due, assignee_id, assignee_name,"
    " accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (chat_id, message_id) DO NOTHING RETURNING *"
)
_INSERT_EVENT = (
    "INSERT INTO ticket_events (ticket_id, at, actor_id, actor_name, kind, from_status,"
    " to_status, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_MEDIA = (
    "INSERT INTO ticket_media (ticket_id, chat_id, message_id, kind, file_id, file_unique_id,"
    " added_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO NOTHING"
)
_ADOPT_ALBUM_PARTS = (
    "INSERT INTO ticket_media (ticket_id, chat_id, message_id, kind, file_id, file_unique_id,"
    " added_at) SELECT ?, chat_id, message_id, kind, file_id, file_unique_id, received_at"
    " FROM album_parts WHERE chat_id = ? AND media_group_id = ?"
    " ON CONFLICT (chat_id, message_id) DO NOTHING"
)
_FORGET_ALBUM_PARTS = "DELETE FROM album_parts WHERE chat_id = ? AND media_group_id = ?"
_DUPLICATES = (
    "SELECT * FROM tickets WHERE grid_id = ? AND category = ? AND id <> ?"
    " AND status IN ('new', 'accepted') AND created_at >= ?"
    " AND estate IS ? AND building IS ? ORDER BY id DESC LIMIT ?"
)
RECEIPT_DUPLICATES = 3  # likely duplicates a receipt names


def _duplicates_values(ticket: Ticket, since: datetime, limit: int) -> tuple[Any, ...]:
    return (
        ticket.grid_id,
        ticket.category,
        ticket.id,
        to_db_time(since),
        ticket.estate,
        ticket.building,
        limit,
    )


OnMoved = Callable[[AsyncConn, Ticket], Awaitable[bool]]
"""Run in a transition's transaction once the ticket moved (its event and messages written),
with the ticket after the move: what else the move owes, or whether it may happen at all
(a 💬 ready answer's draft is used there, once, with its use recorded). False undoes the move:
the transaction is rolled back and :meth:`TicketRepository.transition` returns None."""


class _Undone(Exception):
    """An :data:`OnMoved` hook said no: the transition's transaction is rolled back."""


OnOpened = Callable[[Conn, Ticket], object]
"""Run in the opening transaction once the ticket (and its receipt's row) exists, in the
engine's thread: what else a new ticket owes at once (the automatic answer of bot.answers)
is queued with it, so a crash cannot keep the ticket and lose that."""


def open_in(
    conn: Conn,
    draft: NewTicket,
    receipt: bool,
    duplicates_since: datetime | None,
    then: OnOpened | None = None,
) -> tuple[Ticket, bool]:
    """:meth:`TicketRepository.open`, in sqlite's thread inside :meth:`Database.atomic`: also
    for another repository whose transaction opens a ticket (an accepted offer)."""
    stamp = to_db_time(draft.created_at)
    # RETURNING gives the stored row (defaults included) without a second read.
    row = conn.execute(_INSERT_TICKET, _ticket_values(draft, stamp)).fetchone()
    if row is None:
        existing = conn.execute(
            "SELECT * FROM tickets WHERE chat_id = ? AND message_id = ?",
            (draft.chat_id, draft.message_id),
        ).fetchone()
        assert existing is not None
        return Ticket.from_row(existing), False
    ticket = Ticket.from_row(row)
    conn.execute(
        _INSERT_EVENT,
        (
            ticket.id,
            stamp,
            draft.reporter_id,
            draft.reporter_name,
            EventKind.OPENED,
            None,
            draft.status,
            draft.source,
        ),
    )
    if draft.media:
        conn.executemany(
            _INSERT_MEDIA,
            [_media_values(ticket.id, draft.chat_id, item, stamp) for item in draft.media],
        )
    if draft.media_group_id is not None:
        conn.execute(_ADOPT_ALBUM_PARTS, (ticket.id, draft.chat_id, draft.media_group_id))
        conn.execute(_FORGET_ALBUM_PARTS, (draft.chat_id, draft.media_group_id))
    if receipt:
        # the receipt is owed from the moment the ticket exists: same transaction
        files = 0
        if draft.media or draft.media_group_id is not None:  # (an album's kept items adopted)
            files = conn.execute(
                "SELECT COUNT(*) FROM ticket_media WHERE ticket_id = ?", (ticket.id,)
            ).fetchone()[0]
        duplicates: tuple[int, ...] = ()
        if duplicates_since is not None and (ticket.building or ticket.estate):
            values = _duplicates_values(ticket, duplicates_since, RECEIPT_DUPLICATES)
            duplicates = tuple(r["id"] for r in conn.execute(_DUPLICATES, values))
        queue_in(
            conn,
            OutboxDraft(
                chat_id=draft.chat_id,
                kind="receipt",
                not_before=draft.created_at,
                payload=ReceiptFacts(int(files), duplicates).payload(),
                ticket_id=ticket.id,
                dedupe_key=f"receipt:{ticket.id}",
            ),
            draft.created_at,
        )
    if then is not None:
        then(conn, ticket)
    return ticket, True


def _ticket_values(draft: NewTicket, stamp: str) -> tuple[Any, ...]:
    return (
        draft.grid_id,
        draft.chat_id,
        draft.message_id,
        draft.thread_id,
        draft.media_group_id,
        draft.source,
        draft.category,
        json.dumps(list(draft.labels), ensure_ascii=False),
        draft.text,
        draft.body,
        draft.estate,
        draft.building,
        draft.unit,
        draft.room,
        draft.reporter_id,
        draft.reporter_name,
        draft.status,
        stamp,
        stamp,
        to_db_time(draft.response_due),
        to_db_time(draft.resolution_due),
        draft.assignee_id,
        draft.assignee_name,
        None if draft.accepted_at is None else to_db_time(draft.accepted_at),
    )


def _media_values(ticket_id: int, chat_id: int, item: MediaItem, stamp: str) -> tuple[Any, ...]:
    return (
        ticket_id,
        chat_id,
        item.message_id,
        item.kind,
        item.file_id,
        item.file_unique_id,
        stamp,
    )


async def _by_id(conn: AsyncConn, ticket_id: int) -> Ticket | None:
    row = await first(conn, "SELECT * FROM tickets WHERE id = ?", (ticket_id,))
    return None if row is None else Ticket.from_row(row)


async def status_of(conn: AsyncConn, ticket_id: int) -> Status | None:
    """A ticket's status read inside the caller's transaction; None if there is no such ticket."""
    row = await first(conn, "SELECT status FROM tickets WHERE id = ?", (ticket_id,))
    return None if row is None else Status(row[0])


async def write_event(
    conn: AsyncConn,
    ticket_id: int,
    event: EventDraft,
    from_status: str | None,
    to_status: str | None,
) -> None:
    """A history row inside the caller's transaction."""
    await _event(
        conn,
        ticket_id,
        event.at,
        event.actor_id,
        event.actor_name,
        event.kind,
        from_status,
        to_status,
        event.note,
    )


async def _event(
    conn: AsyncConn,
    ticket_id: int,
    at: datetime,
    actor_id: int | None,
    actor_name: str,
    kind: EventKind,
    from_status: str | None,
    to_status: str | None,
    note: str,
) -> None:
    await conn.execute(
        _INSERT_EVENT,
        (ticket_id, to_db_time(at), actor_id, actor_name, kind, from_status, to_status, note),
    )


async def _media_added(
    conn: AsyncConn,
    ticket_id: int,
    now: datetime,
    actor_id: int | None,
    actor_name: str,
    count: int,
) -> None:
    kind = EventKind.MEDIA_ADDED
    await _event(conn, ticket_id, now, actor_id, actor_name, kind, None, None, str(count))


async def _insert_media(
    conn: AsyncConn,
    ticket_id: int,
    chat_id: int,
    items: Sequence[MediaItem],
    stamp: str,
) -> int:
    added = 0
    for item in items:
        cursor = await conn.execute(_INSERT_MEDIA, _media_values(ticket_id, chat_id, item, stamp))
        added += cursor.rowcount
    return added
