"""What is due, asked of the database (the only source of truth for schedules), and the
conditional updates that make each reminder, escalation and follow-up happen exactly once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from storage.db import Database, to_db_time
from storage.models import Ticket
from storage.outbox import OutboxDraft, queue
from storage.tickets import EventDraft, status_of, write_event
from storage.vocabulary import Satisfaction, Status


class ScheduleRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _tickets(self, where: str, params: Sequence[Any], limit: int) -> list[Ticket]:
        rows = await self._db.fetch_all(
            f"SELECT * FROM tickets WHERE {where} ORDER BY id LIMIT ?",  # noqa: S608 - fixed SQL
            (*params, limit),
        )
        return [Ticket.from_row(r) for r in rows]

    async def response_reminders_due(
        self, now: datetime, lead: timedelta, limit: int = 500
    ) -> list[Ticket]:
        """New tickets nobody has acted on whose response reminder is due at ``now``.

        The reminder comes ``lead`` before the response deadline, but never earlier than
        halfway through the response window: an urgent ticket with a 30-minute window and a
        30-minute lead is reminded after 15 minutes, not seconds after its receipt.
        """
        return await self._tickets(
            "status = 'new' AND response_reminded_at IS NULL AND response_due <= ?"
            " AND unixepoch(created_at) + unixepoch(response_due) <= 2 * unixepoch(?)",
            (to_db_time(now + lead), to_db_time(now)),
            limit,
        )

    async def escalations_due(self, now: datetime, limit: int = 500) -> list[Ticket]:
        """Open tickets past their resolution deadline not yet escalated to the street."""
        return await self._tickets(
            "status IN ('new', 'accepted') AND escalation_level < 2 AND resolution_due <= ?",
            (to_db_time(now),),
            limit,
        )

    async def followups_due(self, now: datetime, limit: int = 500) -> list[Ticket]:
        return await self._tickets(
            "status = 'resolved' AND followup_due IS NOT NULL AND followup_due <= ?",
            (to_db_time(now),),
            limit,
        )

    async def followup_reminders_due(
        self, asked_before: datetime, limit: int = 500
    ) -> list[Ticket]:
        return await self._tickets(
            "status = 'resolved' AND followup_asked_at IS NOT NULL"
            " AND followup_reminded_at IS NULL AND followup_asked_at <= ?",
            (to_db_time(asked_before),),
            limit,
        )

    async def followups_expired(self, asked_before: datetime, limit: int = 500) -> list[Ticket]:
        return await self._tickets(
            "status = 'resolved' AND followup_asked_at IS NOT NULL AND followup_asked_at <= ?",
            (to_db_time(asked_before),),
            limit,
        )

    # -- claims: each applies once, with its history row and messages, in one transaction ----

    async def claim_response_reminder(
        self, ticket_id: int, now: datetime, event: EventDraft, messages: Sequence[OutboxDraft]
    ) -> bool:
        """Remind of a new ticket's response deadline, once per ticket."""
        return await self._claim(
            ticket_id,
            "status = 'new' AND response_reminded_at IS NULL",
            (),
            {"response_reminded_at": now},
            event,
            messages,
        )

    async def claim_escalation(
        self,
        ticket_id: int,
        *,
        from_level: int,
        to_level: int,
        now: datetime,
        event: EventDraft,
        messages: Sequence[OutboxDraft],
    ) -> bool:
        """Raise a ticket from ``from_level`` to ``to_level``; False if someone moved it first."""
        return await self._claim(
            ticket_id,
            "escalation_level = ?",
            (from_level,),
            {"escalation_level": to_level, "escalated_at": now},
            event,
            messages,
        )

    async def claim_followup(
        self, ticket_id: int, now: datetime, event: EventDraft, messages: Sequence[OutboxDraft]
    ) -> bool:
        """Ask the reporters of a resolved ticket whether they are satisfied, once."""
        return await self._claim(
            ticket_id,
            "status = 'resolved' AND followup_due IS NOT NULL",
            (),
            {"followup_due": None, "followup_asked_at": now},
            event,
            messages,
        )

    async def claim_followup_reminder(
        self, ticket_id: int, now: datetime, event: EventDraft, messages: Sequence[OutboxDraft]
    ) -> bool:
        """Remind the reporters of an unanswered 回访, once per question."""
        return await self._claim(
            ticket_id,
            "status = 'resolved' AND followup_reminded_at IS NULL",
            (),
            {"followup_reminded_at": now},
            event,
            messages,
        )

    async def close_unasked(self, ticket_id: int, now: datetime, event: EventDraft) -> bool:
        """Close a resolved ticket nobody can be asked about (a patrol finding) as 未评价."""
        return await self._close_unrated(ticket_id, "followup_due IS NOT NULL", now, event)

    async def close_unanswered(self, ticket_id: int, now: datetime, event: EventDraft) -> bool:
        """Close a resolved ticket whose 回访 went unanswered as 未评价."""
        return await self._close_unrated(ticket_id, "followup_asked_at IS NOT NULL", now, event)

    async def _close_unrated(
        self, ticket_id: int, guard: str, now: datetime, event: EventDraft
    ) -> bool:
        changes = {
            "status": Status.CLOSED,
            "satisfaction": Satisfaction.UNRATED,
            "closed_at": now,
            "followup_due": None,
            "updated_at": now,
        }
        return await self._claim(
            ticket_id, f"status = 'resolved' AND {guard}", (), changes, event, ()
        )

    async def _claim(
        self,
        ticket_id: int,
        guard: str,
        guard_params: Sequence[Any],
        changes: Mapping[str, Any],
        event: EventDraft,
        messages: Sequence[OutboxDraft],
    ) -> bool:
        """Apply ``changes`` if ``guard`` still holds, with its event and messages, atomically.

        The guard (one of the fixed conditions above, never caller text) is what makes each
        claim happen once, even when two ticks or a restart look at the same ticket.
        """
        sets, values = _assignments(changes)
        async with self._db.transaction() as conn:
            status = await status_of(conn, ticket_id)
            if status is None:
                return False
            cursor = await conn.execute(
                f"UPDATE tickets SET {sets} WHERE id = ? AND ({guard})",  # noqa: S608 - fixed SQL
                (*values, ticket_id, *guard_params),
            )
            if cursor.rowcount == 0:
                return False
            new_status = changes.get("status", status)
            await write_event(conn, ticket_id, event, status, str(new_status))
            for draft in messages:
                await queue(conn, draft, event.at)
        return True


_COLUMNS = frozenset(
    {
        "status",
        "updated_at",
        "response_reminded_at",
        "response_overdue_at",
        "escalation_level",
        "escalated_at",
        "followup_due",
        "followup_asked_at",
        "followup_reminded_at",
        "satisfaction",
        "rated_at",
        "closed_at",
    }
)


def _assignments(changes: Mapping[str, Any]) -> tuple[str, list[Any]]:
    unknown = set(changes) - _COLUMNS
    if unknown:
        raise ValueError(f"not settable here: {sorted(unknown)}")
    values = [to_db_time(v) if isinstance(v, datetime) else v for v in changes.values()]
    return ", ".join(f"{name} = ?" for name in changes), values
