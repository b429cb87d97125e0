"""What is due, asked of the database (the only source of truth for schedules), and the
conditional updates that make each reminder, escalation and follow-up happen exactly once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from storage.db import Database, to_db_time
from storage.models import Ticket
from storage.outbox import OutboxDraft, queue
from storage.tickets import EventDraft, status_of, write_event


class ScheduleRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _tickets(self, where: str, params: Sequence[Any], limit: int) -> list[Ticket]:
        rows = await self._db.fetch_all(
            f"SELECT * FROM tickets WHERE {where} ORDER BY id LIMIT ?",  # noqa: S608 - fixed SQL
            (*params, limit),
        )
        return [Ticket.from_row(r) for r in rows]

    async def response_reminders_due(self, until: datetime, limit: int = 500) -> list[Ticket]:
        """New tickets nobody has acted on whose response deadline is before ``until``."""
        return await self._tickets(
            "status = 'new' AND response_reminded_at IS NULL AND response_due <= ?",
            (to_db_time(until),),
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

    async def mark(
        self,
        ticket_id: int,
        *,
        guard: str,
        guard_params: Sequence[Any] = (),
        changes: Mapping[str, Any],
        event: EventDraft,
        messages: Sequence[OutboxDraft] = (),
    ) -> bool:
        """Apply ``changes`` if ``guard`` still holds, with its event and messages, atomically.

        The guard (e.g. ``response_reminded_at IS NULL``) is what makes a reminder happen once,
        even when two ticks or a restart look at the same ticket.
        """
        sets, values = _assignments(changes)
        async with self._db.transaction() as conn:
            status = await status_of(conn, ticket_id)
            if status is None:
                return False
            cursor = await conn.execute(
                f"UPDATE tickets SET {sets} WHERE id = ? AND ({guard})",  # noqa: S608 - our SQL
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
