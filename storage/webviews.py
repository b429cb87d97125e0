"""What the staff web page reads beyond the bot's own repositories (read-only SQL).

The ticket table filters with ``storage.ledger.LedgerFilter``, the class the ledger download
uses, so the table and its xlsx/csv always hold the same tickets. Its statements stay on
indexes on a million tickets: the count reads ``tickets`` alone (no join unless a grid or
community *name* is filtered on), and each sort key is indexed (``created_at``:
tickets_created; ``resolution_due``: tickets_resolution_due_any; ``grid_id``:
tickets_grid_status; the status in lifecycle order: tickets_status_order of migration 0010),
with the id as tie-breaker so that a page never repeats or skips a ticket. The sort's SQL comes
from :data:`SORTS`, never from input.

The overview's weekly counts per grid (:meth:`WebViews.weekly_by_grid`) bucket the weeks the
way ``storage.metrics`` does for the chart (week 0 is the one ending at ``end``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from storage.db import Database, Row, from_db_time, to_db_time
from storage.ledger import LedgerFilter
from storage.vocabulary import OPEN_STATUSES, Satisfaction, Status

logger = logging.getLogger(__name__)

WEEK = timedelta(days=7)

# Statuses in the order of a ticket's life; migration 0010 indexes this very expression.
STATUS_ORDER: Final = (
    "CASE t.status WHEN 'new' THEN 0 WHEN 'accepted' THEN 1 WHEN 'resolved' THEN 2"
    " WHEN 'closed' THEN 3 WHEN 'rejected' THEN 4 WHEN 'duplicate' THEN 5 END"
)
# The sortable columns, by the name the page's query string uses.
SORTS: Final[Mapping[str, str]] = {
    "created": "t.created_at",
    "due": "t.resolution_due",
    "status": STATUS_ORDER,
    "grid": "t.grid_id",
}

_COLUMNS = (
    "t.id, t.grid_id, t.category, t.body, t.estate, t.building, t.unit, t.room,"
    " t.reporter_name, t.status, t.created_at, t.response_due, t.resolution_due,"
    " t.assignee_name, t.accepted_at, t.resolved_at, t.satisfaction, t.reopen_count,"
    " t.source, t.chat_id, t.message_id"
)
_NAMES_JOIN = " JOIN grids g ON g.id = t.grid_id JOIN communities m ON m.id = g.community_id"

# Week 0 ends at :end (exclusive); whole seconds, so each moment falls in exactly one week.
_WEEKS_BY_GRID = """
SELECT grid_id, week, SUM(is_new), SUM(is_resolved) FROM (
    SELECT grid_id, (unixepoch(?1) - unixepoch(created_at)) / 604800 AS week, 1 AS is_new,
        0 AS is_resolved
    FROM tickets WHERE created_at >= ?2 AND created_at < ?1
    UNION ALL
    SELECT grid_id, (unixepoch(?1) - unixepoch(resolved_at)) / 604800, 0, 1
    FROM tickets WHERE resolved_at >= ?2 AND resolved_at < ?1
) AS weekly
GROUP BY grid_id, week
"""


@dataclass(frozen=True)
class TicketRow:
    """One line of the ticket table."""

    id: int
    grid_id: int
    category: str
    body: str
    estate: str | None
    building: str | None
    unit: str | None
    room: str | None
    reporter_name: str
    status: Status
    created_at: datetime
    response_due: datetime
    resolution_due: datetime
    assignee_name: str | None
    accepted_at: datetime | None
    resolved_at: datetime | None
    satisfaction: Satisfaction | None
    reopen_count: int
    source: str
    chat_id: int
    message_id: int

    @classmethod
    def from_row(cls, row: Row) -> TicketRow:
        return cls(
            id=int(row[0]),
            grid_id=int(row[1]),
            category=row[2],
            body=row[3],
            estate=row[4],
            building=row[5],
            unit=row[6],
            room=row[7],
            reporter_name=row[8],
            status=Status(row[9]),
            created_at=_required(row[10]),
            response_due=_required(row[11]),
            resolution_due=_required(row[12]),
            assignee_name=row[13],
            accepted_at=from_db_time(row[14]),
            resolved_at=from_db_time(row[15]),
            satisfaction=None if row[16] is None else Satisfaction(row[16]),
            reopen_count=int(row[17]),
            source=row[18],
            chat_id=int(row[19]),
            message_id=int(row[20]),
        )

    def is_overdue(self, now: datetime) -> bool:
        """Open and past the resolution deadline (``bot.tickets.is_overdue``)."""
        return self.status in OPEN_STATUSES and now > self.resolution_due


def _table_statements(
    where: LedgerFilter, sort: str, descending: bool
) -> tuple[str, str, list[object]]:
    """The table's count and page statements for ``where``, and their parameters (the page's
    LIMIT and OFFSET follow them)."""
    column = SORTS.get(sort)
    if column is None:
        raise ValueError(f"unknown sort {sort!r}")
    extra, params = where.sql()
    source = "tickets t" + (_NAMES_JOIN if where.needs_names else "")
    direction = "DESC" if descending else "ASC"
    counting = f"SELECT COUNT(*) FROM {source} WHERE 1 = 1{extra}"  # noqa: S608 - our own text
    paging = (
        f"SELECT {_COLUMNS} FROM {source} WHERE 1 = 1{extra}"  # noqa: S608 - as above
        f" ORDER BY {column} {direction}, t.id {direction} LIMIT ? OFFSET ?"
    )
    return counting, paging, params


def _required(value: str) -> datetime:
    moment = from_db_time(value)
    if moment is None:
        raise ValueError("a ticket time is empty")
    return moment


@dataclass(frozen=True)
class TicketPage:
    rows: list[TicketRow]
    total: int  # every matching ticket, not only this page's


@dataclass(frozen=True)
class MediaRow:
    """A file of a ticket, by its own row id (the page's photo address names it)."""

    id: int
    ticket_id: int
    message_id: int
    kind: str
    file_id: str


@dataclass(frozen=True)
class CoReporter:
    user_id: int
    name: str
    added_at: datetime


class WebViews:
    """Read-only queries of the staff page."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ticket_page(
        self, where: LedgerFilter, *, sort: str, descending: bool, limit: int, offset: int
    ) -> TicketPage:
        """One page of the matching tickets, sorted by ``sort`` (a key of :data:`SORTS`) and
        then by id, and how many match in all."""
        if limit < 1 or offset < 0:
            raise ValueError("a page has a positive size and a non-negative offset")
        if where.grid_ids is not None and not where.grid_ids:
            return TicketPage([], 0)
        counting, paging, params = _table_statements(where, sort, descending)
        total = int(await self._db.fetch_value(counting, params))
        if total <= offset:
            return TicketPage([], total)
        rows = await self._db.fetch_all(paging, (*params, limit, offset))
        return TicketPage([TicketRow.from_row(r) for r in rows], total)

    async def query_plans(self, now: datetime) -> dict[str, list[str]]:
        """SQLite's ``EXPLAIN QUERY PLAN`` of the ticket table's statements, by name: its count
        and each sort's page, for every grid, for one grid, and with the open and overdue
        filters (tests and benches check that none reads the whole table or sorts it)."""
        cases = {
            "all": LedgerFilter(),
            "grid": LedgerFilter(grid_ids=(1,)),
            "open": LedgerFilter(statuses=OPEN_STATUSES),
            "overdue": LedgerFilter(overdue_at=now),
        }
        plans: dict[str, list[str]] = {}
        for case, where in cases.items():
            for sort in SORTS:
                counting, paging, params = _table_statements(where, sort, descending=True)
                for name, sql, values in (
                    (f"count {case}", counting, params),
                    (f"page {case} by {sort}", paging, [*params, 50, 0]),
                ):
                    rows = await self._db.fetch_all("EXPLAIN QUERY PLAN " + sql, values)
                    plans[name] = [str(r[3]) for r in rows]
        return plans

    async def media(self, ticket_id: int) -> list[MediaRow]:
        """The ticket's files in the order they came."""
        rows = await self._db.fetch_all(
            "SELECT id, ticket_id, message_id, kind, file_id FROM ticket_media"
            " WHERE ticket_id = ? ORDER BY message_id, id",
            (ticket_id,),
        )
        return [MediaRow(int(r[0]), int(r[1]), int(r[2]), r[3], r[4]) for r in rows]

    async def media_item(self, ticket_id: int, media_id: int) -> MediaRow | None:
        """File ``media_id`` if it belongs to ticket ``ticket_id``; None otherwise."""
        row = await self._db.fetch_one(
            "SELECT id, ticket_id, message_id, kind, file_id FROM ticket_media"
            " WHERE id = ? AND ticket_id = ?",
            (media_id, ticket_id),
        )
        return (
            None if row is None else MediaRow(int(row[0]), int(row[1]), int(row[2]), row[3], row[4])
        )

    async def co_reporters(self, ticket_id: int) -> list[CoReporter]:
        """Residents who said "+1" or whose report was merged into this one, first first."""
        rows = await self._db.fetch_all(
            "SELECT user_id, name, added_at FROM ticket_reporters WHERE ticket_id = ?"
            " ORDER BY added_at, user_id",
            (ticket_id,),
        )
        return [CoReporter(int(r[0]), r[1], _required(r[2])) for r in rows]

    async def weekly_by_grid(self, weeks: int, end: datetime) -> dict[int, list[tuple[int, int]]]:
        """Per grid, tickets opened and resolved in each of the ``weeks`` weeks before ``end``,
        oldest first, as ``(opened, resolved)``; grids with nothing in those weeks are absent."""
        if weeks <= 0:
            return {}
        if end.tzinfo is None:
            raise ValueError("end is timezone-aware")
        rows = await self._db.fetch_all(
            _WEEKS_BY_GRID, (to_db_time(end), to_db_time(end - weeks * WEEK))
        )
        found: dict[int, list[tuple[int, int]]] = {}
        for grid_id, back, opened, resolved in rows:
            series = found.setdefault(int(grid_id), [(0, 0)] * weeks)
            index = weeks - 1 - int(back)
            if 0 <= index < weeks:
                series[index] = (int(opened), int(resolved))
        return found
