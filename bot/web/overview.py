"""The overview's figures: one snapshot of every grid, summed for whoever is looking.

Counting is ``bot.metrics``'s and ``storage.metrics``'s own, so the page says what the digests
and ``/stats`` say: today's and this week's new / resolved / open now / overdue now are
``day_counts_by_grid`` over the local day and the local week from Monday (the digest's day
counts); the three rates over 7 and 30 days are ``rates_by_grid`` over ``Period.last``; the
ranking is ``bot.metrics.rank``; the trend chart's weekly resolution rate is ``rates_by_grid``
over each week; 探访按期率 (关爱走访) is ``storage.care.CareRepository.counts`` over the rates'
periods, shown where the scope's grids keep a roster (``bot.digest.care_shown``, as the digests
and ``/stats`` decide). Nothing here defines a rate.

Why a snapshot: on a million tickets those statements take seconds for every grid together
(bench/README.md), and no less for one grid (their grid filter comes after the period's index
ranges). So the figures of *all* grids are gathered at once, in the background, on a
connection of their own (a page's own queries never wait behind them), and each page sums the
grids of its scope in Python: a few milliseconds for any scope. A snapshot serves for
``fresh_for`` (the page says when it was taken); an older one, up to ``stale_for``, is still
shown while a new one is gathered; past that, or on another local day, the page waits for a new
one. ``linlitong web`` also runs :meth:`OverviewCache.keep_fresh`, which takes a snapshot at
start and every ``fresh_for``, so visitors find the figures there; without it (tests, the bench)
only pages that are looked at cost anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.digest import care_shown, local_day
from bot.metrics import (
    CategoryDayCounts,
    MetricsRepository,
    Period,
    Rate,
    Rates,
    rank,
    rates_by_grid,
)
from storage import GridInfo, GridRepository
from storage.care import CareCounts, CareRepository
from storage.db import Database, open_database
from storage.webviews import WEEK, WebViews

logger = logging.getLogger(__name__)

CHART_WEEKS = 12
RATE_DAYS = (7, 30)  # the periods of the rates, in days; the ranking uses the first (digests)
FRESH_FOR = timedelta(minutes=1)
STALE_FOR = timedelta(minutes=10)
PAST_WEEKS_FRESH_FOR = timedelta(minutes=15)  # past weeks' rates on the chart change rarely
VIEWS_KEPT = 64  # scopes whose sums are kept for the snapshot shown


@dataclass(frozen=True)
class Counts:
    """New and resolved in a period; open and overdue now."""

    new: int = 0
    resolved: int = 0
    open: int = 0
    overdue: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.new + other.new,
            self.resolved + other.resolved,
            self.open + other.open,
            self.overdue + other.overdue,
        )

    @classmethod
    def of(cls, by_category: Mapping[str, CategoryDayCounts]) -> Counts:
        total = cls()
        for c in by_category.values():
            total = total + cls(c.new, c.resolved, c.open, c.overdue)
        return total


@dataclass(frozen=True)
class Week:
    """One week of the trend: its local start, opened, resolved, and the rates over it."""

    start: datetime
    new: int
    resolved: int
    rates: Rates

    @property
    def resolution(self) -> Rate:
        return self.rates.resolution


@dataclass(frozen=True)
class Snapshot:
    """Every grid's figures at ``taken_at``."""

    taken_at: datetime
    day: date  # the local day of taken_at
    week_start: date  # its Monday
    today: dict[int, Counts]
    week: dict[int, Counts]
    rates: dict[int, dict[int, Rates]]  # days -> grid -> rates over Period.last(days)
    week_starts: tuple[datetime, ...]  # the chart's weeks, oldest first
    weekly: dict[int, list[tuple[int, int]]]  # grid -> (opened, resolved) per chart week
    weekly_rates: tuple[dict[int, Rates], ...]  # per chart week: grid -> rates
    past: _PastWeeks  # what of the above was counted for the weeks before this one, and when
    places: dict[int, int]  # grid -> its position in the ranking of every grid (0 first)
    care: dict[int, dict[int, CareCounts]]  # days -> grid -> 探访按期率's counts
    care_people: dict[int, int]  # grid -> people on its roster (not ended)

    def rates_of(self, days: int, grid_id: int) -> Rates:
        return self.rates.get(days, {}).get(grid_id) or Rates.empty()

    def care_of(self, days: int, grid_id: int) -> CareCounts:
        return self.care.get(days, {}).get(grid_id) or CareCounts()

    def place_of(self, grid_id: int | None) -> int:
        """Where the grid stands among all (a grid bound since the snapshot: last). A scope's
        ranking is this order restricted to its grids: ``bot.metrics.rank`` sorts by a key of
        the grid alone, so the order among some grids is their order among all."""
        return self.places.get(grid_id, len(self.places)) if grid_id is not None else 0


# -- gathering ------------------------------------------------------------------------------


def week_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local ISO week of ``day``: Monday 00:00 to the next Monday 00:00."""
    monday = day - timedelta(days=day.weekday())
    return (
        datetime.combine(monday, time(0), tzinfo=tz),
        datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz),
    )


def chart_periods(now: datetime, tz: ZoneInfo, weeks: int = CHART_WEEKS) -> list[Period]:
    """The chart's weeks, oldest first: the last is this local week from Monday, only up to
    ``now`` (a rate counts what was due or done, not what is still to come); each before it is
    7 × 24 hours, counted back from that Monday as ``storage.metrics.weekly_series`` counts
    (across a daylight-saving change a week is an hour off, which a chart can bear)."""
    day, _, _ = local_day(now, tz)
    monday, _ = week_bounds(day, tz)
    periods = [
        Period(monday - back * WEEK, monday - (back - 1) * WEEK) for back in range(weeks - 1, 0, -1)
    ]
    periods.append(Period(monday, max(monday, now)))
    return periods


@dataclass(frozen=True)
class _PastWeeks:
    """The chart's weeks before this one: counted once, kept PAST_WEEKS_FRESH_FOR."""

    starts: tuple[datetime, ...]
    counts: dict[int, list[tuple[int, int]]]  # grid -> (opened, resolved) per week
    rates: tuple[dict[int, Rates], ...]  # per week: grid -> rates
    at: datetime


async def _past_weeks(
    db: Database, periods: Sequence[Period], now: datetime, previous: Snapshot | None
) -> _PastWeeks:
    starts = tuple(p.start for p in periods)
    kept = None if previous is None else previous.past
    if kept is not None and kept.starts == starts and now - kept.at < PAST_WEEKS_FRESH_FOR:
        return kept
    metrics = MetricsRepository(db)
    counts = await WebViews(db).weekly_by_grid(len(periods), periods[-1].end) if periods else {}
    rates = tuple([await rates_by_grid(metrics, period) for period in periods])
    return _PastWeeks(starts, counts, rates, now)


async def take_snapshot(
    db: Database,
    tz: ZoneInfo,
    now: datetime,
    *,
    weeks: int = CHART_WEEKS,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Every grid's figures, with ``db``'s statements one after another.

    The chart's past weeks are ``previous``'s while younger than PAST_WEEKS_FRESH_FOR (they
    change only when an old ticket is done, rated or reopened); this week's opened and resolved
    are the week's counts, its rates counted anew.
    """
    metrics = MetricsRepository(db)
    day, day_start, day_end = local_day(now, tz)
    week_start, week_end = week_bounds(day, tz)
    today = await metrics.day_counts_by_grid(day_start, day_end, now)
    this_week = {
        g: Counts.of(c)
        for g, c in (await metrics.day_counts_by_grid(week_start, week_end, now)).items()
    }
    rates = {days: await rates_by_grid(metrics, Period.last(days, now)) for days in RATE_DAYS}
    roster = CareRepository(db)
    care = {days: await roster.counts(Period.last(days, now).start, now) for days in RATE_DAYS}
    care_people = await roster.people_by_grid()
    periods = chart_periods(now, tz, weeks)
    past = await _past_weeks(db, periods[:-1], now, previous)
    current = await rates_by_grid(metrics, periods[-1])
    nothing = [(0, 0)] * len(past.starts)
    weekly = {
        g: [*past.counts.get(g, nothing), (c.new, c.resolved)]
        for g, c in {**{g: Counts() for g in past.counts}, **this_week}.items()
    }
    ranked = rank(
        await GridRepository(db).grids(),
        rates=lambda grid: rates[RATE_DAYS[0]].get(grid.id) or Rates.empty(),
        name=lambda grid: grid.name,
    )
    return Snapshot(
        taken_at=now,
        day=day,
        week_start=week_start.date(),
        today={g: Counts.of(c) for g, c in today.items()},
        week=this_week,
        rates=rates,
        week_starts=tuple(p.start for p in periods),
        weekly=weekly,
        weekly_rates=(*past.rates, current),
        past=past,
        places={grid.id: place for place, grid in enumerate(ranked)},
        care=care,
        care_people=care_people,
    )


def _retrieved(task: asyncio.Task[Snapshot]) -> None:
    """A background snapshot's failure is logged by ``_take``; nobody else need hear of it."""
    if not task.cancelled():
        task.exception()


def _own_target(db: Database) -> Path | str | None:
    """Where ``db`` lives, to open a second connection to it (None: an in-memory database)."""
    url = getattr(db, "url", None)
    if isinstance(url, str):
        return url
    path = getattr(db, "path", None)
    if path is None or str(path) == ":memory:":
        return None
    return Path(path)


@dataclass
class OverviewCache:
    """The latest snapshot and the policy for taking the next one (module docstring).

    ``fresh_for=stale_for=timedelta(0)``: every page counts anew (tests).
    """

    fresh_for: timedelta = FRESH_FOR
    stale_for: timedelta = STALE_FOR
    weeks: int = CHART_WEEKS
    _latest: Snapshot | None = None
    _taking: asyncio.Task[Snapshot] | None = field(default=None, repr=False)
    _views: dict[tuple[tuple[int, str, str], ...], View] = field(default_factory=dict, repr=False)
    _views_of: Snapshot | None = field(default=None, repr=False)

    def view(self, snapshot: Snapshot, grids: Sequence[GridInfo]) -> View:
        """:func:`view`, kept per set of grids while ``snapshot`` is the one shown (a snapshot
        never changes: the same scope's next page reuses its sums)."""
        if self._views_of is not snapshot:
            self._views, self._views_of = {}, snapshot
        key = tuple(sorted((g.id, g.name, g.community_name) for g in grids))
        found = self._views.get(key)
        if found is None:
            if len(self._views) >= VIEWS_KEPT:
                self._views.clear()
            found = self._views[key] = view(snapshot, grids)
        return found

    async def snapshot(self, db: Database, tz: ZoneInfo, now: datetime) -> Snapshot:
        latest = self._latest
        if latest is not None and latest.day == now.astimezone(tz).date():
            age = now - latest.taken_at
            if timedelta(0) <= age < self.fresh_for:
                return latest
            if timedelta(0) <= age < self.stale_for:
                self._start(db, tz, now)  # shown meanwhile; the next page gets the new one
                return latest
        return await asyncio.shield(self._start(db, tz, now))

    async def keep_fresh(self, db: Database, tz: ZoneInfo, clock: Clock) -> None:
        """Take a snapshot now and again every ``fresh_for`` while the page runs (``linlitong
        web`` starts this), so that no visitor waits for the figures: not the first after the
        start, nor one after a quiet hour. A failure is logged and tried again next time;
        cancelling this cancels a snapshot being taken."""
        while True:
            with contextlib.suppress(Exception):  # _take logged it
                await self._start(db, tz, clock.now())
            await asyncio.sleep(self.fresh_for.total_seconds())

    def _start(self, db: Database, tz: ZoneInfo, now: datetime) -> asyncio.Task[Snapshot]:
        """The snapshot being taken, or a new one started (never two at once)."""
        if self._taking is None or self._taking.done():
            self._taking = asyncio.create_task(self._take(db, tz, now), name="web-overview")
            self._taking.add_done_callback(_retrieved)
        return self._taking

    async def _take(self, db: Database, tz: ZoneInfo, now: datetime) -> Snapshot:
        started = asyncio.get_running_loop().time()
        target = _own_target(db)
        own = None if target is None else await open_database(target, migrate=False, create=False)
        try:
            taken = await take_snapshot(own or db, tz, now, weeks=self.weeks, previous=self._latest)
        except Exception:
            logger.exception("web: the overview's figures could not be gathered")
            raise
        finally:
            if own is not None:
                await own.close()
        self._latest = taken
        logger.info(
            "web: overview figures gathered in %.0f ms",
            (asyncio.get_running_loop().time() - started) * 1000,
        )
        return taken


# -- one scope's view -------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One row of the overview's tables: a grid, a community, or everything in scope."""

    name: str
    today: Counts
    week: Counts
    rates: tuple[Rates, ...]  # in RATE_DAYS order
    community: str = ""
    community_id: int | None = None
    grid_id: int | None = None
    grids: int = 1  # how many grids the row sums
    rank: int | None = None  # place in the ranking (by the first period's rates)
    care: tuple[CareCounts, ...] = ()  # 探访按期率's counts, in RATE_DAYS order
    care_people: int = 0  # on the roster (not ended)

    @property
    def ranked_by(self) -> Rates:
        return self.rates[0]

    @property
    def care_rates(self) -> tuple[Rate, ...]:
        """探访按期率 over each of RATE_DAYS, as rates (numerator and denominator)."""
        return tuple(Rate(c.on_time, c.fell_due) for c in self.care)

    @property
    def care_shown(self) -> bool:
        """Whether the row's grids keep a 关爱走访 roster (or a visit fell due in them)."""
        return any(care_shown(self.care_people, c) for c in self.care)


@dataclass(frozen=True)
class View:
    """What the overview shows for a set of grids."""

    taken_at: datetime
    day: date
    week_start: date
    total: Line
    grids: list[Line]  # by community, then name; empty past MAX_GRID_ROWS grids
    ranking: list[Line]  # in ranking order, each with its place (past MAX_GRID_ROWS: the ends)
    ranked: int  # how many grids the ranking ranks
    communities: list[Line]  # ranked, each with its place; empty for a single community
    chart: list[Week]

    @property
    def cut(self) -> bool:
        """Whether the ranking shows only its first and last RANKING_ENDS grids."""
        return len(self.ranking) < self.ranked


MAX_GRID_ROWS = 100  # more grids than this: the per-grid tables give way to the communities
RANKING_ENDS = 10  # … and the ranking shows its first and last this many


def view(snapshot: Snapshot, grids: Sequence[GridInfo]) -> View:
    """The figures of ``grids`` (already the scope's), summed per community and in all."""
    lines = [_grid_line(snapshot, grid) for grid in sorted(grids, key=_by_place)]
    ranking = _placed(sorted(lines, key=lambda line: snapshot.place_of(line.grid_id)))
    if len(ranking) > MAX_GRID_ROWS:
        ranking = ranking[:RANKING_ENDS] + ranking[-RANKING_ENDS:]
    by_community: dict[tuple[str, int | None], list[Line]] = {}
    for line in lines:
        by_community.setdefault((line.community, line.community_id), []).append(line)
    communities = [
        replace(_sum(name, members), community_id=community_id)
        for (name, community_id), members in by_community.items()
    ]
    if len(communities) > 1:
        communities = _placed(
            rank(communities, rates=lambda line: line.ranked_by, name=lambda line: line.name)
        )
    else:
        communities = []
    return View(
        taken_at=snapshot.taken_at,
        day=snapshot.day,
        week_start=snapshot.week_start,
        total=_sum("", lines),
        grids=lines if len(lines) <= MAX_GRID_ROWS else [],
        ranking=ranking,
        ranked=len(lines),
        communities=communities,
        chart=_chart(snapshot, [g.id for g in grids]),
    )


def _by_place(grid: GridInfo) -> tuple[str, str, int]:
    return (grid.community_name, grid.name, grid.id)


def _grid_line(snapshot: Snapshot, grid: GridInfo) -> Line:
    return Line(
        name=grid.name,
        community=grid.community_name,
        community_id=grid.community_id,
        grid_id=grid.id,
        today=snapshot.today.get(grid.id, Counts()),
        week=snapshot.week.get(grid.id, Counts()),
        rates=tuple(snapshot.rates_of(days, grid.id) for days in RATE_DAYS),
        care=tuple(snapshot.care_of(days, grid.id) for days in RATE_DAYS),
        care_people=snapshot.care_people.get(grid.id, 0),
    )


def combine(parts: Iterable[Rates]) -> Rates:
    """``Rates.combine`` (counts added up), adding plain integers: a thousand grids' rates are
    summed per page, and a Rates per addition would cost more than the rest of the page."""
    n = [0, 0, 0, 0, 0, 0]
    for part in parts:
        n[0] += part.response.numerator
        n[1] += part.response.denominator
        n[2] += part.resolution.numerator
        n[3] += part.resolution.denominator
        n[4] += part.satisfaction.numerator
        n[5] += part.satisfaction.denominator
    return Rates(Rate(n[0], n[1]), Rate(n[2], n[3]), Rate(n[4], n[5]))


def _sum(name: str, lines: Sequence[Line]) -> Line:
    today = [0, 0, 0, 0]
    week = [0, 0, 0, 0]
    for line in lines:
        for totals, counts in ((today, line.today), (week, line.week)):
            totals[0] += counts.new
            totals[1] += counts.resolved
            totals[2] += counts.open
            totals[3] += counts.overdue
    on_time, fell_due = [0] * len(RATE_DAYS), [0] * len(RATE_DAYS)
    for line in lines:  # plain integers, as combine(): a page may sum a thousand grids
        for i, care in enumerate(line.care):
            on_time[i] += care.on_time
            fell_due[i] += care.fell_due
    return Line(
        name=name,
        today=Counts(*today),
        week=Counts(*week),
        rates=tuple(combine(line.rates[i] for line in lines) for i in range(len(RATE_DAYS))),
        grids=len(lines),
        care=tuple(CareCounts(n, d) for n, d in zip(on_time, fell_due, strict=True)),
        care_people=sum(line.care_people for line in lines),
    )


def _placed(lines: Sequence[Line]) -> list[Line]:
    """Places in the ranking; lines whose ranking keys tie share a place (1, 2, 2, 4)."""
    placed: list[Line] = []
    previous: tuple[object, ...] | None = None
    place = 0
    for index, line in enumerate(lines, start=1):
        key = _tie(line.ranked_by)
        if key != previous:
            place, previous = index, key
        placed.append(replace(line, rank=place))
    return placed


def _tie(rates: Rates) -> tuple[tuple[int, int] | None, ...]:
    """What ``bot.metrics.ranking_key`` compares, as exact fractions in lowest terms."""
    return tuple(_lowest(rate) for rate in (rates.resolution, rates.response, rates.satisfaction))


def _lowest(rate: Rate) -> tuple[int, int] | None:
    if rate.denominator == 0:
        return None
    divisor = math.gcd(rate.numerator, rate.denominator)
    return (rate.numerator // divisor, rate.denominator // divisor)


def _chart(snapshot: Snapshot, grid_ids: Sequence[int]) -> list[Week]:
    weeks = []
    for index, start in enumerate(snapshot.week_starts):
        new = resolved = 0
        for grid_id in grid_ids:
            counts = snapshot.weekly.get(grid_id)
            if counts is not None:
                new += counts[index][0]
                resolved += counts[index][1]
        by_grid = snapshot.weekly_rates[index]
        rates = combine(by_grid[g] for g in grid_ids if g in by_grid)
        weeks.append(Week(start, new, resolved, rates))
    return weeks
