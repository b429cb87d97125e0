"""The outbox: messages the bot owes, written with the change that causes them, sent later."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from storage.db import (
    AsyncConn,
    Conn,
    Database,
    Row,
    from_db_time,
    to_db_time,
    unrecorded_scope,
)
from storage.models import Ticket

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxDraft:
    chat_id: int
    kind: str
    not_before: datetime
    text: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    ticket_id: int | None = None
    dedupe_key: str | None = None
    attachment: bytes | None = None


@dataclass(frozen=True)
class ReceiptFacts:
    """What a receipt says besides the ticket itself, found when the ticket opened (in the same
    transaction) and kept in the receipt's row: its files, and likely duplicates."""

    files: int
    duplicates: tuple[int, ...]

    def payload(self) -> dict[str, Any]:
        return {"files": self.files, "duplicates": list(self.duplicates)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ReceiptFacts | None:
        """None for a row queued before receipts carried them."""
        files, duplicates = payload.get("files"), payload.get("duplicates")
        if not isinstance(files, int) or not isinstance(duplicates, list):
            return None
        return cls(files, tuple(int(i) for i in duplicates))


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    kind: str
    text: str
    payload: dict[str, Any]
    attachment: bytes | None
    ticket_id: int | None
    dedupe_key: str | None
    created_at: datetime
    not_before: datetime
    attempts: int
    status: str
    message_id: int | None
    # a receipt's ticket as it was when the row was read (by due() and due_in_chat())
    ticket: Ticket | None = None

    @property
    def receipt_facts(self) -> ReceiptFacts | None:
        return ReceiptFacts.from_payload(self.payload) if self.kind == "receipt" else None

    @classmethod
    def from_row(cls, row: Row, ticket: Ticket | None = None) -> OutboxItem:
        created = from_db_time(row["created_at"])
        not_before = from_db_time(row["not_before"])
        assert created is not None and not_before is not None
        return cls(
            id=row["id"],
            chat_id=row["chat_id"],
            kind=row["kind"],
            text=row["text"],
            payload=json.loads(row["payload"]),
            attachment=row["attachment"],
            ticket_id=row["ticket_id"],
            dedupe_key=row["dedupe_key"],
            created_at=created,
            not_before=not_before,
            attempts=row["attempts"],
            status=row["status"],
            message_id=row["message_id"],
            ticket=ticket,
        )


CLAIM_ROWS = 50  # rows read per chat claimed (a group takes 20 a minute)

_QUEUE = (
    "INSERT INTO outbox (chat_id, kind, text, payload, attachment, ticket_id, dedupe_key,"
    " created_at, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (dedupe_key) DO NOTHING"
)


def _queue_values(draft: OutboxDraft, now: datetime) -> tuple[Any, ...]:
    return (
        draft.chat_id,
        draft.kind,
        draft.text,
        json.dumps(dict(draft.payload), ensure_ascii=False),
        draft.attachment,
        draft.ticket_id,
        draft.dedupe_key,
        to_db_time(now),
        to_db_time(draft.not_before),
    )


async def queue(conn: AsyncConn, draft: OutboxDraft, now: datetime) -> bool:
    """Add a message inside the caller's transaction; False if its dedupe key was queued before."""
    cursor = await conn.execute(_QUEUE, _queue_values(draft, now))
    return cursor.rowcount > 0


def queue_in(conn: Conn, draft: OutboxDraft, now: datetime) -> bool:
    """:func:`queue` for work running in sqlite's thread (:meth:`Database.atomic`)."""
    return conn.execute(_QUEUE, _queue_values(draft, now)).rowcount > 0


def _with_tickets(conn: Conn, rows: list[Row], known: Ticket | None = None) -> list[OutboxItem]:
    """The rows as items, each receipt with its ticket read in the same hand-over (``known``:
    one as it stands in this transaction already, not read again)."""
    wanted = {r["ticket_id"] for r in rows if r["kind"] == "receipt" and r["ticket_id"]}
    tickets: dict[int, Ticket] = {}
    if known is not None and known.id in wanted:
        wanted.discard(known.id)
        tickets[known.id] = known
    if wanted:
        found = conn.execute(
            "SELECT * FROM tickets WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(wanted)),),
        ).fetchall()
        tickets.update((t.id, t) for t in map(Ticket.from_row, found))
    return [OutboxItem.from_row(r, tickets.get(r["ticket_id"])) for r in rows]


class Adopter(Protocol):
    """Who sends a chat's rows as soon as they are queued (the running sender), so that a
    receipt queued with its ticket needs no read of its own: the opening transaction claims the
    chat and reads its due rows, and hands them over after its COMMIT.

    ``reserve`` (on the event loop, before the transaction) says whether the transaction may
    claim the chat for it — never a chat it is draining or may be claiming by itself — and
    holds the chat until ``adopt``. ``adopt`` (after the transaction, whatever became of it)
    gets the chat's due rows read under the claim, or None: nothing claimed (another instance
    holds it, nothing was queued, or the transaction failed) — the reservation is let go, and
    ``queued`` says whether a row was queued after all (then it is sent as any row, after a
    wake). A row queued for a chat that was not reserved is announced by ``wake``."""

    def reserve(self, chat_id: int) -> bool: ...

    def adopt(self, chat_id: int, rows: list[OutboxItem] | None, *, queued: bool) -> None: ...

    def wake(self, chat_id: int | None = None) -> None: ...


def claim_chat_in(
    conn: Conn, db: Database, chat_id: int, now: datetime, rows: int, known: Ticket | None = None
) -> list[OutboxItem] | None:
    """Claim one chat's outbox (:meth:`Database.claim_outbox_in`) and read its due rows under
    the claim, receipts with their tickets (as :meth:`OutboxRepository.claim_due` does for
    the chats it finds; ``known``: a ticket of this transaction, as it stands); None if
    another instance holds the chat."""
    if not db.claim_outbox_in(conn, [chat_id]):
        return None
    found = conn.execute(
        "SELECT o.* FROM outbox o WHERE o.chat_id = ? AND o.status = 'pending'"
        " AND o.not_before <= ? ORDER BY o.id LIMIT ?",
        (chat_id, to_db_time(now), rows),
    ).fetchall()
    return _with_tickets(conn, found, known)


@dataclass(frozen=True)
class Claimed:
    """What :meth:`OutboxRepository.claim_due` found: the chats now this instance's to send,
    each with its due rows as they are after the claim, and the chats another instance holds."""

    rows: dict[int, list[OutboxItem]]
    refused: list[int]

    @property
    def chats(self) -> int:
        """Chats looked at (a full page means more may be waiting behind them)."""
        return len(self.rows) + len(self.refused)


@dataclass(frozen=True)
class _Mark:
    """One :meth:`OutboxRepository.mark_sent`, waiting to be written with others."""

    ids: tuple[int, ...]
    message_id: int | None
    stamp: str
    receipt_of: tuple[int, ...]
    release: int | None


def _mark_in(conn: Conn, marks: Sequence[_Mark]) -> None:
    conn.executemany(
        "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?,"
        " attempts = attempts + 1 WHERE id = ?",
        [(m.stamp, m.message_id, item_id) for m in marks for item_id in m.ids],
    )
    receipts = [(m.message_id, ticket_id) for m in marks for ticket_id in m.receipt_of]
    if receipts:
        conn.executemany("UPDATE tickets SET receipt_message_id = ? WHERE id = ?", receipts)


class _BatchFailed(Exception):
    """A batch of marks whose transaction failed (the cause): each waiting mark learns it."""

    def __init__(self, batch: list[tuple[_Mark, asyncio.Future[None]]]) -> None:
        super().__init__("marking sent failed")
        self.batch = batch


def _resolve(
    batch: Sequence[tuple[_Mark, asyncio.Future[None]]], error: BaseException | None
) -> None:
    for _, written in batch:
        if written.done():  # (its caller was cancelled: the mark was written all the same)
            continue
        if error is None:
            written.set_result(None)
        else:
            written.set_exception(error)


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        # mark_sent's marks waiting to be written, and whether a batch is being written
        self._marks: deque[tuple[_Mark, asyncio.Future[None]]] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def add(self, draft: OutboxDraft, now: datetime) -> bool:
        return await self._db.atomic(lambda conn: queue_in(conn, draft, now))

    async def add_many(self, drafts: Sequence[OutboxDraft], now: datetime) -> int:
        return await self._db.atomic(lambda conn: sum(queue_in(conn, d, now) for d in drafts))

    async def due(
        self, now: datetime, limit: int = 500, *, exclude: Sequence[int] = ()
    ) -> list[OutboxItem]:
        """Pending messages whose time has come, oldest first, attachments included; none of
        the chats in ``exclude`` (being sent to already). Receipts come with their tickets."""
        values = (to_db_time(now), json.dumps(list(exclude)), limit)

        def read(conn: Conn) -> list[OutboxItem]:
            rows = conn.execute(
                "SELECT o.* FROM outbox o WHERE o.status = 'pending' AND o.not_before <= ?"
                " AND o.chat_id NOT IN (SELECT value FROM json_each(?)) ORDER BY o.id LIMIT ?",
                values,
            ).fetchall()
            return _with_tickets(conn, rows)

        return await self._db.run(read)

    async def claim_due(
        self,
        now: datetime,
        *,
        chats: int = 200,
        rows_per_chat: int = CLAIM_ROWS,
        exclude: Sequence[int] = (),
    ) -> Claimed:
        """Claim the chats with messages due (oldest first, up to ``chats``, none of
        ``exclude``) and read their due rows *after* the claim, up to ``rows_per_chat`` each,
        receipts with their tickets, in one hand-over.

        A chat is sent by one instance at a time (:meth:`Database.claim_outbox_in`) until
        :meth:`release_chat`. The rows are read under the claim, so a row another instance sent
        before letting go of the chat is never sent again.
        """
        moment = to_db_time(now)
        db = self._db

        def claim(conn: Conn) -> Claimed:
            due = [
                int(r[0])
                for r in conn.execute(
                    "SELECT chat_id FROM outbox WHERE status = 'pending' AND not_before <= ?"
                    " AND chat_id NOT IN (SELECT value FROM json_each(?))"
                    " GROUP BY chat_id ORDER BY MIN(id) LIMIT ?",
                    (moment, json.dumps(list(exclude)), chats),
                ).fetchall()
            ]
            taken = db.claim_outbox_in(conn, due) if due else []
            refused = sorted(set(due) - set(taken))
            if not taken:
                return Claimed({}, refused)
            rows = conn.execute(
                "SELECT * FROM (SELECT o.*, ROW_NUMBER() OVER"
                " (PARTITION BY o.chat_id ORDER BY o.id) AS place FROM outbox o"
                " WHERE o.status = 'pending' AND o.not_before <= ?"
                " AND o.chat_id IN (SELECT value FROM json_each(?))) AS w"
                " WHERE place <= ? ORDER BY id",
                (moment, json.dumps(taken), rows_per_chat),
            ).fetchall()
            by_chat: dict[int, list[OutboxItem]] = {chat: [] for chat in taken}
            for item in _with_tickets(conn, rows):
                by_chat[item.chat_id].append(item)
            return Claimed(by_chat, refused)

        return await db.run(claim)

    async def release_chat(self, chat_id: int) -> None:
        """Let another instance send this chat's messages (after :meth:`claim_due`)."""
        await self._db.release_outbox(chat_id)

    async def due_in_chat(self, chat_id: int, now: datetime, *, after: int) -> list[OutboxItem]:
        """Pending messages of one chat queued after row ``after`` whose time has come;
        receipts with their tickets."""
        values = (chat_id, after, to_db_time(now))

        def read(conn: Conn) -> list[OutboxItem]:
            rows = conn.execute(
                "SELECT o.* FROM outbox o WHERE o.chat_id = ? AND o.status = 'pending'"
                " AND o.id > ? AND o.not_before <= ? ORDER BY o.id",
                values,
            ).fetchall()
            return _with_tickets(conn, rows)

        return await self._db.run(read)

    async def mark_sent(
        self,
        ids: Sequence[int],
        message_id: int | None,
        now: datetime,
        *,
        receipt_of: Sequence[int] = (),
        release: int | None = None,
    ) -> None:
        """Sent; receipts' tickets learn the receipt's message id in the same transaction.
        ``release``: then let go of that chat (:meth:`claim_due`), after the COMMIT.

        Marks are written together: one waits only while another batch is being written, and
        the batch takes every mark that came meanwhile (the drains of many chats finish their
        sends together) — one transaction and one hand-over for them all, returning when its
        own is committed."""
        mark = _Mark(tuple(ids), message_id, to_db_time(now), tuple(receipt_of), release)
        if unrecorded_scope() is not None:  # (the sender has no update): recorded with it
            await self._db.atomic(lambda conn: _mark_in(conn, [mark]))
            if release is not None:
                await self.release_chat(release)
            return
        written = asyncio.get_running_loop().create_future()
        self._marks.append((mark, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_marks(), name="outbox-marks")
        try:
            await written
        except asyncio.CancelledError:
            # (a stopping sender): the mark is written all the same; the drain lets go of its
            # chat only after it, or another instance would read the row as pending
            await self.settle()
            raise

    async def settle(self) -> None:
        """Until every mark waiting is written (a cancellation waits on, then is raised):
        before a drain that was stopped lets go of its chat, and before the database closes."""
        cancelled: asyncio.CancelledError | None = None
        while (writer := self._writer) is not None and not writer.done():
            try:
                await asyncio.wait({writer})
            except asyncio.CancelledError as exc:
                cancelled = exc
        if cancelled is not None:
            raise cancelled

    async def _write_marks(self) -> None:
        """Write batches while marks wait: each batch every mark waiting when the engine's
        thread takes it (marks added meanwhile go in the next). A batch that fails fails each
        of its marks; a trip that fails before taking any fails every mark waiting."""
        db = self._db
        waiting = self._marks

        def write(conn: Conn) -> list[tuple[_Mark, asyncio.Future[None]]]:
            batch = []
            while waiting:  # (a deque: the loop may append while this thread takes)
                batch.append(waiting.popleft())
            if not batch:
                return batch
            committed = False
            try:
                conn.execute(db.BEGIN)
                try:
                    _mark_in(conn, [mark for mark, _ in batch])
                    conn.execute("COMMIT")
                    committed = True
                finally:
                    if not committed:
                        conn.execute("ROLLBACK")
            except BaseException as exc:
                raise _BatchFailed(batch) from exc
            # after the COMMIT: the instance that claims a chat next reads these rows as sent
            for mark, _ in batch:
                if mark.release is not None:
                    try:
                        db.release_outbox_in(conn, mark.release)
                    except Exception:  # (the marks are written: they did not fail)
                        logger.exception("outbox: letting go of chat %s failed", mark.release)
            return batch

        while waiting:
            try:
                batch = await db.run(write)
            except _BatchFailed as failed:
                _resolve(failed.batch, failed.__cause__ or failed)
            except Exception as exc:  # the trip itself failed: no batch was taken
                _resolve([waiting.popleft() for _ in range(len(waiting))], exc)
            else:
                _resolve(batch, None)

    async def postpone_chat(
        self, chat_id: int, failed: Sequence[int], not_before: datetime, error: str
    ) -> None:
        """A send failed: the failed rows count an attempt, and every pending row of the chat
        waits as long, so that nothing overtakes the message it follows."""
        stamp = to_db_time(not_before)
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET not_before = CASE WHEN not_before > ?1 THEN not_before"
                " ELSE ?1 END WHERE chat_id = ?2 AND status = 'pending'",
                (stamp, chat_id),
            )
            for item_id in failed:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                    (error[:500], item_id),
                )

    async def retry_now(self, now: datetime) -> int:
        """After a restart, rows waiting out an earlier process's backoff are due at once."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET not_before = ? WHERE status = 'pending' AND attempts > 0"
                " AND not_before > ?",
                (to_db_time(now), to_db_time(now)),
            )
            return cursor.rowcount

    async def give_up(self, item_id: int, error: str, status: str = "failed") -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?"
                " WHERE id = ?",
                (status, error[:500], item_id),
            )

    async def retarget(self, old_chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: pending messages follow it."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status = 'pending'",
                (new_chat_id, old_chat_id),
            )

    async def drop_chat(self, chat_id: int, error: str) -> int:
        """The bot was removed or blocked: nothing more goes there; the chat is marked."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET status = 'dropped', last_error = ?"
                " WHERE chat_id = ? AND status = 'pending'",
                (error[:500], chat_id),
            )
            await conn.execute("UPDATE chats SET reachable = 0 WHERE chat_id = ?", (chat_id,))
            return cursor.rowcount

    async def by_message(self, chat_id: int, message_id: int) -> OutboxItem | None:
        row = await self._db.fetch_one(
            "SELECT * FROM outbox WHERE chat_id = ? AND message_id = ? AND status = 'sent'"
            " ORDER BY id DESC LIMIT 1",
            (chat_id, message_id),
        )
        return None if row is None else OutboxItem.from_row(row)

    async def sent_for(self, ticket_id: int, kind: str) -> int | None:
        """The message id of the last sent message of ``kind`` about a ticket."""
        value = await self._db.fetch_value(
            "SELECT message_id FROM outbox WHERE ticket_id = ? AND kind = ? AND status = 'sent'"
            " ORDER BY id DESC LIMIT 1",
            (ticket_id, kind),
        )
        return None if value is None else int(value)

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetch_all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}

    async def items(self, kind: str | None = None) -> list[OutboxItem]:
        """Every row (tests, `linlitong outbox`); newest last."""
        if kind is None:
            rows = await self._db.fetch_all("SELECT * FROM outbox ORDER BY id")
        else:
            rows = await self._db.fetch_all(
                "SELECT * FROM outbox WHERE kind = ? ORDER BY id", (kind,)
            )
        return [OutboxItem.from_row(r) for r in rows]
