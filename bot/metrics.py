"""The three rates (响应率 · 解决率 · 满意率), exactly as DESIGN.md defines them.

Over a period ``[start, end)`` (timezone-aware; stored times are UTC text, so the bounds compare
as text), for the tickets of a set of grids (a grid, a community, a street):

响应率 (response rate)
    numerator: tickets first acted on by an officer (``accepted_at`` set) at or before their
    ``response_due``; denominator: tickets whose ``response_due`` fell in the period OR whose
    ``accepted_at`` fell in the period. Every status counts: a rejection or a duplicate mark is an
    officer action too (every officer transition sets ``accepted_at`` the first time). The
    numerator counts only tickets that are in the denominator.
解决率 (resolution rate)
    numerator: tickets resolved (``resolved_at`` set) at or before their ``resolution_due`` AND
    with ``reopen_count = 0``; denominator: tickets whose ``resolution_due`` fell in the period OR
    whose ``resolved_at`` fell in the period. Side exits (status ``rejected`` or ``duplicate``) are
    left out of both. A reopened ticket has no ``resolved_at`` until it is done again, and then
    never counts in the numerator.
满意率 (satisfaction rate)
    numerator: tickets rated 满意 ``satisfied`` or 基本满意 ``basic``; denominator: tickets with
    ``rated_at`` in the period and a satisfaction of ``satisfied``, ``basic`` or ``unsatisfied``.
    未评价 ``unrated`` (no answer in the follow-up window) counts neither way.

Each rate is shown with its numerator and denominator, ``92.3%（12/13）``, and an empty
denominator as ``—（0/0）``: never a bare percentage of nothing.

Also: the median response time (``accepted_at - created_at``) over the tickets first acted on in
the period, and the median resolution time (``resolved_at - created_at``) over the tickets
resolved in it.

Ranking (supervisor digests, ``/stats`` breakdowns): by 解决率, then 响应率, then 满意率, each
highest first, a rate with an empty denominator after every rate with one; ties by name.
Fractions are compared exactly (1/3 ties 2/6).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import TypeVar

from bot.texts import Language, Texts
from storage.metrics import (
    CategoryDayCounts,
    Medians,
    MetricsRepository,
    RateCounts,
    WeekCounts,
)

__all__ = [
    "CategoryDayCounts",
    "Medians",
    "MetricsRepository",
    "Period",
    "Rate",
    "RateCounts",
    "Rates",
    "WeekCounts",
    "format_duration",
    "rank",
    "ranking_key",
    "rate_lines",
    "rates_by_grid",
    "rates_of",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    """A rate as its two counts; the percentage is derived, never stored."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        if not 0 <= self.numerator <= self.denominator:
            raise ValueError(f"impossible rate {self.numerator}/{self.denominator}")

    @property
    def value(self) -> float | None:
        """The share in [0, 1], or None when nothing was counted."""
        return None if self.denominator == 0 else self.numerator / self.denominator

    @property
    def fraction(self) -> Fraction | None:
        return None if self.denominator == 0 else Fraction(self.numerator, self.denominator)

    def format(self, language: Language = "zh") -> str:
        """``92.3%（12/13）``; ``—（0/0）`` for an empty denominator (en: ``92.3% (12/13)``)."""
        share = "—" if self.value is None else f"{self.value * 100:.1f}%"
        return Texts(language)(
            "stats.rate_value", share=share, numerator=self.numerator, denominator=self.denominator
        )

    def __str__(self) -> str:
        return self.format()

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.numerator + other.numerator, self.denominator + other.denominator)


@dataclass(frozen=True)
class Rates:
    """The three rates of one set of tickets over one period."""

    response: Rate
    resolution: Rate
    satisfaction: Rate

    @classmethod
    def from_counts(cls, counts: RateCounts) -> Rates:
        return cls(
            Rate(counts.responded_in_time, counts.response_total),
            Rate(counts.resolved_in_time, counts.resolution_total),
            Rate(counts.satisfied, counts.rated),
        )

    @classmethod
    def empty(cls) -> Rates:
        return cls(Rate(0, 0), Rate(0, 0), Rate(0, 0))

    @classmethod
    def combine(cls, parts: Iterable[Rates]) -> Rates:
        """Rates of the union of disjoint ticket sets: counts add up, percentages do not."""
        total = cls.empty()
        for part in parts:
            total = total + part
        return total

    def __add__(self, other: Rates) -> Rates:
        return Rates(
            self.response + other.response,
            self.resolution + other.resolution,
            self.satisfaction + other.satisfaction,
        )


@dataclass(frozen=True)
class Period:
    """``[start, end)``, timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period is timezone-aware")
        if self.end < self.start:
            raise ValueError("a period ends after it starts")

    @classmethod
    def last(cls, days: int, now: datetime) -> Period:
        """The ``days`` × 24 hours up to ``now`` (the digests and ``/stats`` use this)."""
        if days <= 0:
            raise ValueError("a period lasts at least one day")
        return cls(now - timedelta(days=days), now)


def _rate_key(rate: Rate) -> tuple[bool, Fraction]:
    value = rate.fraction
    return (value is None, -(value or Fraction(0)))


RankKey = tuple[tuple[bool, Fraction], tuple[bool, Fraction], tuple[bool, Fraction], str]


def ranking_key(rates: Rates, name: str) -> RankKey:
    """解决率, then 响应率, then 满意率, highest first; empty denominators last; then the name."""
    return (
        _rate_key(rates.resolution),
        _rate_key(rates.response),
        _rate_key(rates.satisfaction),
        name,
    )


T = TypeVar("T")


def rank(items: Iterable[T], *, rates: Callable[[T], Rates], name: Callable[[T], str]) -> list[T]:
    """``items`` in ranking order (see the module docstring)."""
    return sorted(items, key=lambda item: ranking_key(rates(item), name(item)))


async def rates_by_grid(
    metrics: MetricsRepository, period: Period, grid_ids: Collection[int] | None = None
) -> dict[int, Rates]:
    """The three rates of each grid over ``period``; a grid asked for by id but without any
    counted ticket gets empty rates (``—（0/0）``), so it is still listed and ranked."""
    counts = await metrics.rates_by_grid(period.start, period.end, grid_ids)
    found = {grid_id: Rates.from_counts(c) for grid_id, c in counts.items()}
    for grid_id in grid_ids or ():
        found.setdefault(grid_id, Rates.empty())
    return found


async def rates_of(
    metrics: MetricsRepository, period: Period, grid_ids: Collection[int] | None = None
) -> Rates:
    """The three rates of the grids together (counts summed, not percentages averaged)."""
    return Rates.combine((await rates_by_grid(metrics, period, grid_ids)).values())


def format_duration(duration: timedelta | None, texts: Texts) -> str:
    """``3天2小时`` / ``2小时5分钟`` / ``20分钟`` (en ``3d 2h``, ``2h 5m``, ``20m``); — for none."""
    if duration is None:
        return "—"
    minutes = int(duration.total_seconds() // 60)
    if minutes < 1:
        return texts("stats.duration.under_minute")
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return texts("stats.duration.days", d=days, h=hours)
    if hours:
        return texts("stats.duration.hours", h=hours, m=minutes)
    return texts("stats.duration.minutes", m=minutes)


def rate_lines(rates: Rates, texts: Texts) -> Sequence[str]:
    """The three rates, one per line, each with its numerator and denominator."""
    return [
        texts("stats.rate_line", name=texts(f"stats.name.{kind}"), rate=rate.format(texts.language))
        for kind, rate in (
            ("response", rates.response),
            ("resolution", rates.resolution),
            ("satisfaction", rates.satisfaction),
        )
    ]
