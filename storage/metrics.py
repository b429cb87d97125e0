"""Aggregates behind the three rates, the daily digests and the weekly chart.

SQL does the counting (``SUM(CASE …)`` grouped by grid), so the cost of a digest run grows with
the tickets of the period, not with the whole table: each period condition is an index range
(``created_at``, ``accepted_at``, ``resolved_at``, ``rated_at`` and, since migration 0004, both
deadlines for every status) and only the matching rows are read. The definitions of the rates
live in ``bot.metrics``; this module only counts what it is told to count.

Times are stored as UTC ISO-8601 text to the second, so comparing text is comparing time. Every
``grid_ids`` argument means: ``None`` every grid, an empty collection no grid at all.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from storage.db import Database, to_db_time
from storage.models import Ticket
from storage.vocabulary import Satisfaction, Status

logger = logging.getLogger(__name__)

WEEK = timedelta(days=7)
# What the SQL below spells out inside its strings (partial indexes match only literals).
# 解决率 leaves out the side exits: a rejected or duplicate ticket was never to be resolved.
SIDE_EXITS = (Status.REJECTED, Status.DUPLICATE)
SATISFIED = (Satisfaction.SATISFIED, Satisfaction.BASIC)
RATED = (*SATISFIED, Satisfaction.UNSATISFIED)  # 'unrated' (未评价) counts neither way


@dataclass(frozen=True)
class RateCounts:
    """Numerators and denominators of the three rates for some tickets over one period."""

    responded_in_time: int = 0
    response_total: int = 0
    resolved_in_time: int = 0
    resolution_total: int = 0
    satisfied: int = 0
    rated: int = 0

    def __add__(self, other: RateCounts) -> RateCounts:
        return RateCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def empty(self) -> bool:
        return not (self.response_total or self.resolution_total or self.rated)


@dataclass(frozen=True)
class CategoryDayCounts:
    """One category of one grid on one day: opened, resolved, open now, overdue now."""

    new: int = 0
    resolved: int = 0
    open: int = 0
    overdue: int = 0

    def __add__(self, other: CategoryDayCounts) -> CategoryDayCounts:
        return CategoryDayCounts(
            self.new + other.new,
            self.resolved + other.resolved,
            self.open + other.open,
            self.overdue + other.overdue,
        )


@dataclass(frozen=True)
class Medians:
    """Median time to first officer action and to resolution, and how many tickets each has."""

    response: timedelta | None
    response_count: int
    resolution: timedelta | None
    resolution_count: int


@dataclass(frozen=True)
class WeekCounts:
    """Tickets opened and resolved in the week ``[start, start + 7 days)``."""

    start: datetime
    new: int
    resolved: int


# -- SQL ------------------------------------------------------------------------------------------
_NAMED = re.compile(r":([a-z_]+)\b")


@dataclass(frozen=True)
class _Numbered:
    """SQL written with ``:name`` parameters, run as numbered ``?N`` ones (a name used twice is
    bound once), since ``Database`` binds a sequence."""

    sql: str
    names: tuple[str, ...]

    def params(self, **values: Any) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.names)


@dataclass(frozen=True)
class _Statement:
    """A statement with the grid filter, twice: for every grid (``grids`` None) the filter is
    left out, for some grids it is only the ``IN``. One text with ``:grids IS NULL OR …`` would do
    for both, but PostgreSQL then never uses the grid as an index condition: a one-grid /digest
    read every open ticket (2–3 s on a million) where the ``IN`` alone takes milliseconds."""

    every: _Numbered
    some: _Numbered

    def bind(self, grids: str | None, **values: Any) -> tuple[str, tuple[Any, ...]]:
        chosen = self.every if grids is None else self.some
        return chosen.sql, chosen.params(grids=grids, **values)


def _numbered(sql: str) -> _Numbered:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"?{names.index(match.group(1)) + 1}"

    return _Numbered(_NAMED.sub(number, sql), tuple(names))


def _statement(sql: str) -> _Statement:
    every = _FILTER.sub("1 = 1", sql)
    some = _FILTER.sub(r"\1 IN (SELECT value FROM json_each(:grids))", sql)
    return _Statement(_numbered(every), _numbered(some))


# ``:grids`` is a JSON list of grid ids, or NULL for every grid. One parameter whatever the number
# of grids, so a street of 1,000 grids never meets SQLite's variable limit.
_GRID_FILTER = "(:grids IS NULL OR {col} IN (SELECT value FROM json_each(:grids)))"
_FILTER = re.compile(r"\(:grids IS NULL OR ([\w.]+) IN \(SELECT value FROM json_each\(:grids\)\)\)")

# Every ticket one of whose rate conditions falls in the period, found through five index ranges;
# UNION removes the ticket counted by two of them. The outer query applies the exact definitions.
_RATES = _statement(
    f"""
WITH candidates(id) AS (
    SELECT id FROM tickets WHERE response_due >= :start AND response_due < :end
    UNION SELECT id FROM tickets WHERE accepted_at >= :start AND accepted_at < :end
    UNION SELECT id FROM tickets WHERE resolution_due >= :start AND resolution_due < :end
    UNION SELECT id FROM tickets WHERE resolved_at >= :start AND resolved_at < :end
    UNION SELECT id FROM tickets WHERE rated_at >= :start AND rated_at < :end
), flagged AS (
    SELECT t.grid_id,
        (t.response_due >= :start AND t.response_due < :end)
            OR (t.accepted_at >= :start AND t.accepted_at < :end) AS in_response,
        t.status NOT IN ('rejected', 'duplicate') AND (
            (t.resolution_due >= :start AND t.resolution_due < :end)
            OR (t.resolved_at >= :start AND t.resolved_at < :end)) AS in_resolution,
        t.rated_at >= :start AND t.rated_at < :end
            AND t.satisfaction IN ('satisfied', 'basic', 'unsatisfied') AS in_rating,
        t.accepted_at IS NOT NULL AND t.accepted_at <= t.response_due AS responded_in_time,
        t.resolved_at IS NOT NULL AND t.resolved_at <= t.resolution_due
            AND t.reopen_count = 0 AS resolved_in_time,
        t.satisfaction IN ('satisfied', 'basic') AS satisfied
    FROM candidates c JOIN tickets t ON t.id = c.id
    WHERE {_GRID_FILTER.format(col="t.grid_id")}
)
SELECT grid_id,
    SUM(CASE WHEN in_response AND responded_in_time THEN 1 ELSE 0 END),
    SUM(CASE WHEN in_response THEN 1 ELSE 0 END),
    SUM(CASE WHEN in_resolution AND resolved_in_time THEN 1 ELSE 0 END),
    SUM(CASE WHEN in_resolution THEN 1 ELSE 0 END),
    SUM(CASE WHEN in_rating AND satisfied THEN 1 ELSE 0 END),
    SUM(CASE WHEN in_rating THEN 1 ELSE 0 END)
FROM flagged
GROUP BY grid_id
"""  # noqa: S608 - the only formatted part is our own fixed text
)

# Opened today, resolved today, and open now (overdue: open past the resolution deadline, as
# bot.tickets.is_overdue says). Open tickets come through the partial index of migration 0003.
_DAY = _statement(
    f"""
SELECT grid_id, category, SUM(is_new), SUM(is_resolved), SUM(is_open), SUM(is_overdue)
FROM (
    SELECT grid_id, category, 1 AS is_new, 0 AS is_resolved, 0 AS is_open, 0 AS is_overdue
    FROM tickets WHERE created_at >= :start AND created_at < :end
    UNION ALL
    SELECT grid_id, category, 0, 1, 0, 0
    FROM tickets WHERE resolved_at >= :start AND resolved_at < :end
    UNION ALL
    SELECT grid_id, category, 0, 0, 1, CASE WHEN resolution_due < :now THEN 1 ELSE 0 END
    FROM tickets WHERE status IN ('new', 'accepted')
) AS day
WHERE {_GRID_FILTER.format(col="grid_id")}
GROUP BY grid_id, category
"""  # noqa: S608
)

# Number each grid's overdue tickets over the covering index of open tickets by grid (0004), then
# read the full rows of the first :limit of each only.
_OVERDUE = _statement(
    f"""
WITH ranked AS (
    SELECT id, grid_id,
        ROW_NUMBER() OVER (PARTITION BY grid_id ORDER BY resolution_due, id) AS rn
    FROM tickets
    WHERE status IN ('new', 'accepted') AND resolution_due < :now
        AND {_GRID_FILTER.format(col="grid_id")}
)
SELECT t.* FROM ranked r JOIN tickets t ON t.id = r.id
WHERE r.rn <= :limit
ORDER BY r.grid_id, r.rn
"""  # noqa: S608
)

# The median in SQL: number the durations in order, average the middle one (odd count) or two.
_MEDIAN = """
WITH d(s) AS ({durations}),
ranked AS (SELECT s, ROW_NUMBER() OVER (ORDER BY s) AS i, COUNT(*) OVER () AS n FROM d)
SELECT AVG(s), MAX(n) FROM ranked WHERE i IN ((n + 1) / 2, (n + 2) / 2)
"""
_RESPONSE_MEDIAN = _statement(
    _MEDIAN.format(
        durations=f"""SELECT unixepoch(accepted_at) - unixepoch(created_at) FROM tickets
        WHERE accepted_at >= :start AND accepted_at < :end
        AND {_GRID_FILTER.format(col="grid_id")}"""  # noqa: S608
    )
)
_RESOLUTION_MEDIAN = _statement(
    _MEDIAN.format(
        durations=f"""SELECT unixepoch(resolved_at) - unixepoch(created_at) FROM tickets
        WHERE resolved_at >= :start AND resolved_at < :end
        AND {_GRID_FILTER.format(col="grid_id")}"""  # noqa: S608
    )
)

# Week 0 is the one ending at :end; integer division of whole seconds buckets each moment.
_WEEKS = _statement(
    f"""
SELECT week, SUM(is_new), SUM(is_resolved) FROM (
    SELECT (unixepoch(:end) - unixepoch(created_at)) / 604800 AS week, 1 AS is_new,
        0 AS is_resolved, grid_id
    FROM tickets WHERE created_at >= :start AND created_at < :end
    UNION ALL
    SELECT (unixepoch(:end) - unixepoch(resolved_at)) / 604800, 0, 1, grid_id
    FROM tickets WHERE resolved_at >= :start AND resolved_at < :end
) AS weekly
WHERE {_GRID_FILTER.format(col="grid_id")}
GROUP BY week
"""  # noqa: S608
)


def _grids_param(grid_ids: Collection[int] | None) -> str | None:
    return None if grid_ids is None else json.dumps(sorted({int(g) for g in grid_ids}))


def _period(start: datetime, end: datetime) -> dict[str, str]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("periods are timezone-aware")
    if end < start:
        raise ValueError("a period ends after it starts")
    return {"start": to_db_time(start), "end": to_db_time(end)}


class MetricsRepository:
    """Read-only aggregates over tickets; each method runs one or two statements in all."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def rates_by_grid(
        self, start: datetime, end: datetime, grid_ids: Collection[int] | None = None
    ) -> dict[int, RateCounts]:
        """The three rates' counts per grid over ``[start, end)``; grids with nothing are absent."""
        period = _period(start, end)
        if grid_ids is not None and not grid_ids:
            return {}
        rows = await self._db.fetch_all(*_RATES.bind(_grids_param(grid_ids), **period))
        return {int(r[0]): RateCounts(*(int(v) for v in r[1:])) for r in rows}

    async def day_counts_by_grid(
        self,
        start: datetime,
        end: datetime,
        now: datetime,
        grid_ids: Collection[int] | None = None,
    ) -> dict[int, dict[str, CategoryDayCounts]]:
        """Per grid and category: opened and resolved in ``[start, end)``; open and overdue now."""
        period = _period(start, end)
        if grid_ids is not None and not grid_ids:
            return {}
        rows = await self._db.fetch_all(
            *_DAY.bind(_grids_param(grid_ids), **period, now=to_db_time(now))
        )
        counts: dict[int, dict[str, CategoryDayCounts]] = {}
        for grid_id, category, *numbers in rows:
            counts.setdefault(int(grid_id), {})[str(category)] = CategoryDayCounts(
                *(int(n) for n in numbers)
            )
        return counts

    async def overdue_by_grid(
        self, now: datetime, per_grid: int, grid_ids: Collection[int] | None = None
    ) -> dict[int, list[Ticket]]:
        """Up to ``per_grid`` open tickets past their resolution deadline per grid, most overdue
        first: one statement numbering each grid's rows, not one query per grid."""
        if per_grid <= 0 or (grid_ids is not None and not grid_ids):
            return {}
        rows = await self._db.fetch_all(
            *_OVERDUE.bind(_grids_param(grid_ids), now=to_db_time(now), limit=per_grid)
        )
        found: dict[int, list[Ticket]] = {}
        for row in rows:
            ticket = Ticket.from_row(row)
            found.setdefault(ticket.grid_id, []).append(ticket)
        return found

    async def medians(
        self, start: datetime, end: datetime, grid_ids: Collection[int] | None = None
    ) -> Medians:
        """Median of ``accepted_at - created_at`` over tickets first acted on in the period, and
        of ``resolved_at - created_at`` over tickets resolved in it, for the grids together."""
        period = _period(start, end)
        if grid_ids is not None and not grid_ids:
            return Medians(None, 0, None, 0)
        grids = _grids_param(grid_ids)
        response, responded = await self._median(_RESPONSE_MEDIAN, period, grids)
        resolution, resolved = await self._median(_RESOLUTION_MEDIAN, period, grids)
        return Medians(response, responded, resolution, resolved)

    async def _median(
        self, statement: _Statement, period: dict[str, str], grids: str | None
    ) -> tuple[timedelta | None, int]:
        row = await self._db.fetch_one(*statement.bind(grids, **period))
        if row is None or row[1] is None:
            return None, 0
        return timedelta(seconds=float(row[0])), int(row[1])

    async def weekly_series(
        self, weeks: int, end: datetime, grid_ids: Collection[int] | None = None
    ) -> list[WeekCounts]:
        """Tickets opened and resolved in each of the ``weeks`` weeks before ``end``, oldest first.

        A week is 7 × 24 hours counted back from ``end`` (pass a local midnight to get local
        weeks; across a daylight-saving change a bucket is an hour off, which a chart can bear).
        """
        if weeks <= 0:
            return []
        period = _period(end - weeks * WEEK, end)
        by_week: dict[int, tuple[int, int]] = {}
        if grid_ids is None or grid_ids:
            rows = await self._db.fetch_all(*_WEEKS.bind(_grids_param(grid_ids), **period))
            by_week = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
        series = []
        for back in range(weeks - 1, -1, -1):
            new, resolved = by_week.get(back, (0, 0))
            series.append(WeekCounts(end - (back + 1) * WEEK, new, resolved))
        return series

    async def query_plans(self) -> dict[str, list[str]]:
        """``EXPLAIN QUERY PLAN`` of every statement here, by name: tests and the bench check that
        each period condition is an index range and no statement scans every ticket."""
        sample = {
            "start": "2026-01-01T00:00:00+00:00",
            "end": "2026-01-08T00:00:00+00:00",
            "now": "2026-01-08T00:00:00+00:00",
            "grids": None,
            "limit": 10,
        }
        plans: dict[str, list[str]] = {}
        for name, statement in _STATEMENTS.items():
            every = statement.every  # "grids": None, the digests' case
            params = {n: sample[n] for n in every.names}
            rows = await self._db.fetch_all(
                "EXPLAIN QUERY PLAN " + every.sql, every.params(**params)
            )
            plans[name] = [str(r[3]) for r in rows]
        return plans


_STATEMENTS: dict[str, _Statement] = {
    "rates": _RATES,
    "day": _DAY,
    "overdue": _OVERDUE,
    "response_median": _RESPONSE_MEDIAN,
    "resolution_median": _RESOLUTION_MEDIAN,
    "weeks": _WEEKS,
}
