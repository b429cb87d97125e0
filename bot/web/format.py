"""Numbers, rates, times and durations as the staff page shows them (pure; no web framework).

Chinese style, the way a community office writes figures: thousands separated by commas
(``12,345``), shares with one decimal (``87.5%``), "—" where there is nothing to show (no
ticket counted, no time set). Times are shown in TIMEZONE: ``11月30日 14:05`` within the current
year, ``2026-11-30 14:05`` otherwise or where the year matters (the ticket's own page); English
readers get ``Nov 30 14:05``. Durations are ``bot.metrics.format_duration``'s (``3天2小时``).

:class:`Formatter` bundles the reader's language, the time zone and the moment the page is
drawn, and is handed to the templates as ``fmt``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.metrics import Rate, format_duration
from bot.texts import Texts

logger = logging.getLogger(__name__)

NONE = "—"  # nothing to show: no ticket counted, no time set


def number(value: int | None) -> str:
    """``12,345``; — for None."""
    return NONE if value is None else f"{value:,}"


def percent(share: float | None) -> str:
    """A share in [0, 1] as ``87.5%`` (one decimal, ``100.0%`` and ``0.0%`` included); — for
    None (an empty denominator: never a percentage of nothing)."""
    return NONE if share is None else f"{share * 100:.1f}%"


def fraction(rate: Rate) -> str:
    """A rate's counts, ``7/8``, with thousands separators."""
    return f"{rate.numerator:,}/{rate.denominator:,}"


def local_time(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times are timezone-aware")
    return moment.astimezone(tz)


def full_moment(moment: datetime | None, tz: ZoneInfo) -> str:
    """``2026-11-30 14:05`` in ``tz``; — for None."""
    if moment is None:
        return NONE
    return f"{local_time(moment, tz):%Y-%m-%d %H:%M}"


def short_moment(moment: datetime | None, tz: ZoneInfo, texts: Texts, now: datetime) -> str:
    """``11月30日 14:05`` within the year of ``now`` (local), the full form otherwise."""
    if moment is None:
        return NONE
    local = local_time(moment, tz)
    if local.year != local_time(now, tz).year:
        return full_moment(moment, tz)
    return texts.moment(moment, tz)


def day(value: date, texts: Texts) -> str:
    """``11月30日`` (en ``Nov 30``)."""
    return texts("web_page.day", date=value)


def duration(delta: timedelta | None, texts: Texts) -> str:
    """``3天2小时`` / ``2小时5分钟`` / ``20分钟`` / ``不到1分钟``; — for None or a negative one."""
    if delta is None or delta < timedelta(0):
        return NONE
    return format_duration(delta, texts)


def iso(moment: datetime, tz: ZoneInfo) -> str:
    """The machine-readable form for ``<time datetime=…>``: local, with its offset."""
    return local_time(moment, tz).isoformat(timespec="minutes")


@dataclass(frozen=True)
class Formatter:
    """The functions above for one page: its reader's words, the zone and its moment."""

    texts: Texts
    tz: ZoneInfo
    now: datetime

    @property
    def none(self) -> str:
        """What stands where there is nothing to show."""
        return NONE

    def number(self, value: int | None) -> str:
        return number(value)

    def percent(self, share: float | None) -> str:
        return percent(share)

    def share(self, rate: Rate) -> str:
        """The rate's percentage alone: ``87.5%`` or —."""
        return percent(rate.value)

    def fraction(self, rate: Rate) -> str:
        return fraction(rate)

    def moment(self, moment: datetime | None) -> str:
        return short_moment(moment, self.tz, self.texts, self.now)

    def full(self, moment: datetime | None) -> str:
        return full_moment(moment, self.tz)

    def day(self, value: date) -> str:
        return day(value, self.texts)

    def duration(self, delta: timedelta | None) -> str:
        return duration(delta, self.texts)

    def since(self, moment: datetime) -> str:
        """How long ago ``moment`` was, as a duration."""
        return duration(self.now - moment, self.texts)

    def iso(self, moment: datetime) -> str:
        return iso(moment, self.tz)
