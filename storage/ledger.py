"""The ledger (台账): every ticket with its grid and community names, streamed in id order."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, Row, from_db_time, to_db_time
from storage.vocabulary import Status

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 2000

# ``tickets AS t NOT INDEXED`` keeps SQLite on the rowid: every page is a range of ids
# (``t.id > ? AND t.id <= ?``), so one statement reads at most ``batch`` tickets whatever the
# filters are. Left to itself the planner would pick tickets_created or tickets_grid_status for a
# filtered export and then sort the whole match again for every page.
_SELECT = """
SELECT t.id, g.name AS grid_name, m.name AS community_name, t.category, t.body,
       t.estate, t.building, t.unit, t.room, t.reporter_name, t.created_at, t.status,
       t.assignee_name, t.accepted_at, t.resolved_at, t.closed_at, t.resolution_due,
       t.satisfaction, t.reopen_count, t.source, t.chat_id, t.message_id
FROM tickets AS t NOT INDEXED
JOIN grids g ON g.id = t.grid_id
JOIN communities m ON m.id = g.community_id
WHERE t.id > ? AND t.id <= ?"""

_COUNT = """
SELECT COUNT(*)
FROM tickets AS t NOT INDEXED
JOIN grids g ON g.id = t.grid_id
JOIN communities m ON m.id = g.community_id
WHERE t.id > ? AND t.id <= ?"""


@dataclass(frozen=True)
class LedgerFilter:
    """Which tickets the ledger holds; ``since_utc`` is inclusive, ``until_utc`` exclusive.

    The staff web page's ticket table (``storage.webviews``) filters with this same class, so
    its ledger download holds exactly the table's rows.
    """

    grid: str | None = None  # a grid name (grid names are unique only within a community)
    community: str | None = None
    since_utc: datetime | None = None
    until_utc: datetime | None = None
    grid_ids: tuple[int, ...] | None = None  # exactly these grids (a supervisor's scope)
    statuses: tuple[Status, ...] | None = None  # any of these statuses
    category: str | None = None  # a category key
    overdue_at: datetime | None = None  # open and past the resolution deadline at this moment
    text: str | None = None  # in the report's body or its estate, any case

    def __post_init__(self) -> None:
        # Statuses are spelled out in the SQL text (partial indexes match literals only):
        # only the vocabulary's own members get there.
        if self.statuses is not None:
            object.__setattr__(self, "statuses", tuple(Status(s) for s in self.statuses))

    @property
    def needs_names(self) -> bool:
        """Whether the clauses name the grid or community tables (``g``, ``m``)."""
        return self.grid is not None or self.community is not None

    def sql(self) -> tuple[str, list[Any]]:
        """Extra ``AND`` clauses and their parameters, in that order."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.grid_ids is not None:
            clauses.append(
                f"t.grid_id IN ({', '.join('?' for _ in self.grid_ids)})" if self.grid_ids else "0"
            )
            params.extend(self.grid_ids)
        if self.grid is not None:
            clauses.append("g.name = ?")
            params.append(self.grid)
        if self.community is not None:
            clauses.append("m.name = ?")
            params.append(self.community)
        if self.since_utc is not None:
            clauses.append("t.created_at >= ?")
            params.append(to_db_time(self.since_utc))
        if self.until_utc is not None:
            clauses.append("t.created_at < ?")
            params.append(to_db_time(self.until_utc))
        if self.statuses is not None:
            listed = ", ".join(f"'{status.value}'" for status in self.statuses)
            clauses.append(f"t.status IN ({listed})" if listed else "0")
        if self.category is not None:
            clauses.append("t.category = ?")
            params.append(self.category)
        if self.overdue_at is not None:
            # bot.tickets.is_overdue: open and past the resolution deadline
            clauses.append("t.status IN ('new', 'accepted') AND t.resolution_due < ?")
            params.append(to_db_time(self.overdue_at))
        if self.text:
            pattern = "%" + _like_escaped(self.text.lower()) + "%"
            clauses.append(
                "(" + " OR ".join(f"lower({c}) LIKE ? ESCAPE '\\'" for c in _SEARCHED) + ")"
            )
            params.extend(pattern for _ in _SEARCHED)
        return "".join(f" AND {c}" for c in clauses), params


# What the text search reads: the report (without its tags, the address as the resident wrote
# it) and the estate as read from it. Building, unit and room are bare numbers, which alone would
# match nearly everything; each column searched costs a pass over a million texts (~0.4 s).
_SEARCHED = ("t.body", "t.estate")


def _like_escaped(text: str) -> str:
    """``text`` matched literally by ``LIKE … ESCAPE '\\'``: its own % and _ are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class LedgerRow:
    """One ticket as the ledger needs it: raw stored values, times aware in UTC."""

    id: int
    grid_name: str
    community_name: str
    category: str
    body: str
    estate: str | None
    building: str | None
    unit: str | None
    room: str | None
    reporter_name: str
    created_at: datetime
    status: str
    assignee_name: str | None
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution_due: datetime
    satisfaction: str | None
    reopen_count: int
    source: str
    chat_id: int
    message_id: int

    @classmethod
    def from_row(cls, row: Row) -> LedgerRow:
        """From a row of ``_SELECT``, whose columns are the fields in order (read by position:
        100,000 rows make the difference to looking each up by name)."""
        values = list(row)
        for index in _TIME_FIELDS:
            values[index] = from_db_time(values[index])
        if any(values[index] is None for index in _REQUIRED_FIELDS):
            raise ValueError(f"ticket {values[0]} lacks created_at or resolution_due")
        return cls(*values)


_FIELDS = tuple(LedgerRow.__dataclass_fields__)
_TIME_FIELDS = tuple(
    i for i, name in enumerate(_FIELDS) if name.endswith("_at") or name == "resolution_due"
)
_REQUIRED_FIELDS = (_FIELDS.index("created_at"), _FIELDS.index("resolution_due"))


class LedgerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def rows(
        self,
        *,
        grid: str | None = None,
        community: str | None = None,
        since_utc: datetime | None = None,
        until_utc: datetime | None = None,
        batch: int = DEFAULT_BATCH,
    ) -> AsyncIterator[LedgerRow]:
        """The matching tickets in id order, fetched ``batch`` ids at a time.

        Each page is its own statement (``Database.fetch_all`` takes the connection lock per
        call), so the bot keeps working between pages. Tickets opened after the export started
        are left out; a ticket that changes while the export runs shows its state when its page
        was read.
        """
        where = LedgerFilter(grid, community, since_utc, until_utc)
        async with aclosing(self.pages(where, batch=batch)) as pages:
            async for page in pages:
                for row in page:
                    yield row

    async def pages(
        self, where: LedgerFilter, *, batch: int = DEFAULT_BATCH
    ) -> AsyncGenerator[list[LedgerRow], None]:
        """Like ``rows`` but a page at a time (each at most ``batch`` rows, never empty)."""
        if batch < 1:
            raise ValueError("batch must be at least 1")
        extra, params = where.sql()
        sql = _SELECT + extra + " ORDER BY t.id"
        for low, high in await self._windows(where, batch):
            found = await self._db.fetch_all(sql, (low, high, *params))
            if found:
                yield [LedgerRow.from_row(r) for r in found]

    async def count(self, where: LedgerFilter, *, batch: int = DEFAULT_BATCH * 10) -> int:
        """How many tickets ``pages`` would yield now, counted a window of ids at a time."""
        extra, params = where.sql()
        total = 0
        for low, high in await self._windows(where, batch):
            total += int(await self._db.fetch_value(_COUNT + extra, (low, high, *params)))
        return total

    async def _windows(self, where: LedgerFilter, size: int) -> Iterator[tuple[int, int]]:
        """``(low, high]`` id ranges covering every ticket that may match, ``size`` ids each."""
        if where.grid_ids is not None and not where.grid_ids:
            return iter(())  # an empty scope matches nothing: no need to read the table
        first, last = await self._id_span(where)
        if first is None or last is None:
            return iter(())
        return ((low, min(low + size, last)) for low in range(first - 1, last, size))

    async def _id_span(self, where: LedgerFilter) -> tuple[int | None, int | None]:
        # With a date range the tickets_created index finds the first and last id that can
        # match (ids need not follow created_at exactly, so this asks for MIN/MAX rather than
        # the ends of the range); without one, the ends of the rowid are found in O(log n).
        if where.since_utc is None and where.until_utc is None:
            row = await self._db.fetch_one(
                "SELECT (SELECT MIN(id) FROM tickets), (SELECT MAX(id) FROM tickets)"
            )
        else:
            low = "" if where.since_utc is None else to_db_time(where.since_utc)
            high = "~" if where.until_utc is None else to_db_time(where.until_utc)  # '~' > digits
            row = await self._db.fetch_one(
                "SELECT MIN(id), MAX(id) FROM tickets WHERE created_at >= ? AND created_at < ?",
                (low, high),
            )
        if row is None:
            return None, None
        return row[0], row[1]
