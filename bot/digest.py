"""The daily digests (日报) and the ``/stats`` text: pure text builders plus the async gatherers.

Texts are HTML (parse mode HTML): every name and body is escaped, and what residents wrote is
masked (``bot.parsing.mask_sensitive``) because digests go to group chats. No telegram import:
the scheduler queues the ``DigestMessage`` rows in the outbox and ``bot.outbox`` sends them.

One run of ``build_daily_digests`` reads the whole deployment with a fixed number of grouped
queries (bindings, grids, rates per grid, day counts per grid and category, the overdue lists of
all grids in one windowed query), whatever the number of grids; the rest is Python on the rows.

关爱走访 in the digests: where the grids keep a roster (anyone not ended on it, or a visit that
fell due in the period), the supervisor digests and ``/stats`` add 探访按期率 over the same
period as the three rates (``storage.care.CareRepository.counts``), with its numerator and
denominator ("无到期走访" when nothing fell due). On Mondays (``CARE_WEEKDAY``, the day the
supervisor chats also get the weekly chart) a community's digest lists its people whose visit
is past its window, by name (an office chat is staff) and a street's counts them. A grid's
digest goes to the residents' group: it says nothing of care at all.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from typing import Literal
from zoneinfo import ZoneInfo

from bot import answers
from bot.categories import CategoryCatalog
from bot.links import message_link
from bot.metrics import (
    CategoryDayCounts,
    Medians,
    MetricsRepository,
    Period,
    Rate,
    Rates,
    format_duration,
    rank,
    rate_lines,
    rates_by_grid,
)
from bot.parsing.contacts import mask_sensitive
from bot.texts import Texts
from storage import AnswerTemplate, ChatBinding, GridInfo, OfferCounts, Storage, Ticket
from storage.care import CareCounts, DueWithPerson

logger = logging.getLogger(__name__)

RATE_DAYS = 7  # the rates in every digest cover the last 7 × 24 hours
OVERDUE_LISTED = 10  # overdue tickets listed by name in a grid digest; the rest are counted
BODY_PREVIEW = 30  # characters of a (masked) body in a digest line
DIGEST_KIND = "digest"  # outbox kind
CARE_WEEKDAY = 0  # Monday: the supervisor digests' weekly list of overdue care visits
CARE_OVERDUE_LISTED = 30  # overdue care visits listed by name in a community digest
CARE_OVERDUE_READ = 5000  # overdue care dues read at most for one run (one statement)

Level = Literal["community", "street"]


@dataclass(frozen=True)
class DigestMessage:
    """One digest to queue: the scheduler writes it to the outbox under ``dedupe_key``."""

    chat_id: int
    text: str
    kind: str
    dedupe_key: str


@dataclass(frozen=True)
class OverdueVisit:
    """A person whose visit is past its window, as the office's weekly list shows them."""

    person_id: int
    name: str
    tier: str
    grid: str
    visitor: str
    late: timedelta  # since the window's end


@dataclass(frozen=True)
class CareFigures:
    """关爱走访 in a supervisor digest or ``/stats``: 探访按期率's counts over the period and,
    on the weekly day, the overdue visits (None: not the day)."""

    counts: CareCounts
    overdue: Sequence[OverdueVisit] | None = None


@dataclass(frozen=True)
class Standing:
    """A grid or a community in a ranking: its rates and, in digests, what is overdue now."""

    name: str
    rates: Rates
    overdue: int | None = None


# -- small helpers --------------------------------------------------------------------------------


def local_day(now: datetime, tz: ZoneInfo) -> tuple[date, datetime, datetime]:
    """The local date of ``now`` in ``tz`` and its bounds ``[midnight, next midnight)``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return day, start, end


def day_text(day: date, texts: Texts) -> str:
    return texts("digest.date", date=day)


def dedupe_key(chat_id: int, day: date) -> str:
    """The same chat gets one digest per local day, however often the scheduler asks."""
    return f"digest:{chat_id}:{day.isoformat()}"


def _tag(catalog: CategoryCatalog, key: str) -> str:
    category = catalog.get(key)
    return category.tag if category else key


def _cut(text: str, size: int) -> str:
    text = " ".join(text.split())  # a digest line stays one line
    return text if len(text) <= size else text[: size - 1] + "…"


def _category_order(catalog: CategoryCatalog, keys: Iterable[str]) -> list[str]:
    """The catalogue's order; keys no longer in the catalogue (an edited file) at the end."""
    present = set(keys)
    known = [c.key for c in catalog if c.key in present]
    return known + sorted(present - set(known))


def _total(counts: Iterable[CategoryDayCounts]) -> CategoryDayCounts:
    total = CategoryDayCounts()
    for part in counts:
        total = total + part
    return total


# -- 关爱走访's figures ---------------------------------------------------------------------------


def care_rate(counts: CareCounts, texts: Texts) -> str:
    """``85.7%（6/7）``, or 无到期走访 when no visit fell due (never a percentage of nothing)."""
    if counts.fell_due == 0:
        return texts("care_fig.no_dues")
    return Rate(counts.on_time, counts.fell_due).format(texts.language)


def care_shown(people: int, counts: CareCounts) -> bool:
    """Whether figures speak of care: the grids keep a roster, or a visit fell due in them."""
    return people > 0 or counts.fell_due > 0


def overdue_visits(
    items: Iterable[DueWithPerson], grids: Mapping[int, GridInfo], now: datetime
) -> list[OverdueVisit]:
    """One line per person (their longest overdue due first: ``items`` come in window order)."""
    seen: set[int] = set()
    found = []
    for item in items:
        person = item.person
        if person.id in seen:
            continue
        seen.add(person.id)
        grid = grids.get(person.grid_id)
        found.append(
            OverdueVisit(
                person.id,
                person.name,
                person.tier,
                grid.name if grid is not None else "",
                person.visitor_name,
                now - item.due.window_end,
            )
        )
    return found


def care_lines(
    care: CareFigures, texts: Texts, *, names: bool, listed: int = CARE_OVERDUE_LISTED
) -> list[str]:
    """The rate, and on the weekly day the overdue visits: by name (``names``: a community's
    office) or only counted (a street's)."""
    lines = [texts("care_fig.rate", rate=care_rate(care.counts, texts))]
    overdue = care.overdue
    if overdue is None:
        return lines
    if not overdue:
        lines.append(texts("care_fig.overdue_none"))
        return lines
    if not names:
        lines.append(texts("care_fig.overdue_count", count=len(overdue)))
        return lines
    lines.append(texts("care_fig.overdue_header", count=len(overdue)))
    lines += [_care_overdue_line(visit, texts) for visit in overdue[:listed]]
    if len(overdue) > listed:
        lines.append(texts("care_fig.overdue_more", count=len(overdue) - listed))
    return lines


def _care_overdue_line(visit: OverdueVisit, texts: Texts) -> str:
    # An office chat is staff: names are allowed; a number typed into a name is still masked.
    days = visit.late.days
    late = texts("care_fig.late_days", days=days) if days else texts("care_fig.late_under_day")
    return texts(
        "care_fig.overdue_line",
        id=visit.person_id,
        name=escape(mask_sensitive(visit.name)),
        tier=escape(visit.tier),
        grid=escape(visit.grid),
        visitor=escape(mask_sensitive(visit.visitor) or "-"),
        late=late,
    )


# -- the grid digest ------------------------------------------------------------------------------


def grid_digest_text(
    *,
    grid: GridInfo,
    day: date,
    counts: Mapping[str, CategoryDayCounts],
    overdue: Sequence[Ticket],
    rates: Rates,
    catalog: CategoryCatalog,
    texts: Texts,
    now: datetime,
    rate_days: int = RATE_DAYS,
    listed: int = OVERDUE_LISTED,
) -> str:
    """A grid chat's 日报: today's counts by category, the overdue tickets, the three rates.

    ``counts`` are the grid's per-category counts for the local ``day`` (open and overdue as of
    ``now``); ``overdue`` its most overdue open tickets (at least the first ``listed``).
    """
    total = _total(counts.values())
    lines = [
        texts(
            "digest.grid_title",
            grid=escape(grid.name),
            community=escape(grid.community_name),
            date=day_text(day, texts),
        ),
        texts(
            "digest.today",
            new=total.new,
            resolved=total.resolved,
            open=total.open,
            overdue=total.overdue,
        ),
    ]
    shown = [k for k in _category_order(catalog, counts) if counts[k] != CategoryDayCounts()]
    if not shown:
        lines.append(texts("digest.nothing"))
    for key in shown:
        c = counts[key]
        lines.append(
            texts(
                "digest.category_line",
                tag=escape(_tag(catalog, key)),
                new=c.new,
                resolved=c.resolved,
                open=c.open,
                overdue=c.overdue,
            )
        )
    overdue_total = max(total.overdue, len(overdue))
    if overdue_total:
        lines += ["", texts("digest.overdue_header", count=overdue_total)]
        lines += [_overdue_line(t, catalog, texts, now) for t in overdue[:listed]]
        hidden = overdue_total - min(len(overdue), listed)
        if hidden > 0:
            lines.append(texts("digest.overdue_more", count=hidden))
    lines += ["", texts("digest.rates_header", days=rate_days), *rate_lines(rates, texts)]
    return "\n".join(lines)


def _overdue_line(ticket: Ticket, catalog: CategoryCatalog, texts: Texts, now: datetime) -> str:
    # The digest goes to the residents' group: mask before cutting, escape last.
    body = escape(_cut(mask_sensitive(ticket.body), BODY_PREVIEW))
    line = texts(
        "digest.overdue_line",
        id=ticket.id,
        tag=escape(_tag(catalog, ticket.category)),
        body=body,
        age=format_duration(now - ticket.created_at, texts),
        late=format_duration(now - ticket.resolution_due, texts),
    )
    link = message_link(ticket.chat_id, ticket.message_id)
    if link:
        line += f' <a href="{escape(link)}">{texts("digest.link")}</a>'
    return line


# -- supervisor digests ---------------------------------------------------------------------------


def ranked(standings: Iterable[Standing]) -> list[Standing]:
    """By 解决率, then 响应率, then 满意率 (highest first, empty denominators last), then name."""
    return rank(standings, rates=lambda s: s.rates, name=lambda s: s.name)


def supervisor_digest_text(
    *,
    level: Level,
    name: str,
    standings: Sequence[Standing],
    day: date,
    texts: Texts,
    rate_days: int = RATE_DAYS,
    offers: OfferCounts | None = None,
    care: CareFigures | None = None,
) -> str:
    """A supervisor chat's 日报: the community's grids (or the street's communities) ranked by
    the three rates over the last ``rate_days`` days, each with numerator and denominator, and
    the total (counts summed); with ``offers`` (any), how many 登记提示 were made and taken up;
    with ``care``, 探访按期率 and (its weekly day) the overdue visits: listed by name for a
    community, counted for a street."""
    title = "digest.community_title" if level == "community" else "digest.street_title"
    lines = [texts(title, name=escape(name), days=rate_days, date=day_text(day, texts))]
    if not standings:
        lines.append(texts("digest.no_grids" if level == "community" else "digest.no_communities"))
        return "\n".join(lines)
    lines.append(texts("digest.ranking_order"))
    lines += [_rank_line(i, s, texts) for i, s in enumerate(ranked(standings), start=1)]
    total = Rates.combine(s.rates for s in standings)
    lines += [
        "",
        texts(
            "digest.total",
            resolution=total.resolution.format(texts.language),
            response=total.response.format(texts.language),
            satisfaction=total.satisfaction.format(texts.language),
            overdue=sum(s.overdue or 0 for s in standings),
        ),
    ]
    if offers:
        lines.append(_offers_line(offers, texts))
    if care is not None:
        lines += ["", *care_lines(care, texts, names=level == "community")]
    return "\n".join(lines)


def _offers_line(offers: OfferCounts, texts: Texts) -> str:
    return texts("stats.offers", made=offers.made, accepted=offers.accepted)


def _rank_line(position: int, standing: Standing, texts: Texts) -> str:
    values = {
        "rank": position,
        "name": escape(standing.name),
        "resolution": standing.rates.resolution.format(texts.language),
        "response": standing.rates.response.format(texts.language),
        "satisfaction": standing.rates.satisfaction.format(texts.language),
    }
    if standing.overdue is None:
        return texts("stats.rank_line", **values)
    return texts("digest.rank_line", overdue=standing.overdue, **values)


# -- /stats ---------------------------------------------------------------------------------------

STATS_ANSWERS = 5  # 常用回复: the ready answers used most in the period


def stats_text(
    *,
    scope: str,
    days: int,
    rates: Rates,
    medians: Medians,
    texts: Texts,
    standings: Sequence[Standing] = (),
    offers: OfferCounts | None = None,
    care: CareCounts | None = None,
    answers_used: Sequence[tuple[AnswerTemplate, int]] = (),
    catalog: CategoryCatalog | None = None,
) -> str:
    """``/stats [days]``: the three rates and the median response and resolution times for one
    grid or several together; with several, each grid ranked below; with ``offers`` (any), how
    many 登记提示 (untagged problems asked about) were made and turned into tickets; with
    ``care``, 探访按期率 (numbers only: /stats may be asked in a grid's group); with
    ``answers_used``, 常用回复: the ready answers used most (count, category, action, first
    words; automatic answers included) — what residents ask most."""
    lines = [texts("stats.title", scope=escape(scope), days=days), *rate_lines(rates, texts)]
    lines.append(
        texts(
            "stats.median_response",
            value=format_duration(medians.response, texts),
            count=medians.response_count,
        )
    )
    lines.append(
        texts(
            "stats.median_resolution",
            value=format_duration(medians.resolution, texts),
            count=medians.resolution_count,
        )
    )
    if offers:
        lines.append(_offers_line(offers, texts))
    if care is not None:
        lines.append(texts("care_fig.rate", rate=care_rate(care, texts)))
    if answers_used:
        lines += ["", texts("answers.stats_title")]
        lines += [
            _answer_line(t, n, catalog or CategoryCatalog.default(), texts) for t, n in answers_used
        ]
    if len(standings) > 1:
        lines += ["", texts("stats.breakdown")]
        lines += [_rank_line(i, s, texts) for i, s in enumerate(ranked(standings), start=1)]
    lines += ["", f"<i>{texts('stats.footnote')}</i>"]
    if care is not None:
        lines.append(f"<i>{texts('care_fig.footnote')}</i>")
    return "\n".join(lines)


def _answer_line(
    template: AnswerTemplate, count: int, catalog: CategoryCatalog, texts: Texts
) -> str:
    return texts(
        "answers.stats_line",
        count=count,
        category=escape(answers.category_name(template.category, catalog, texts)),
        action=answers.action_name(template.action, texts),
        words=escape(answers.first_words(template.text)),
    )


async def build_stats_text(
    storage: Storage,
    grids: Sequence[GridInfo],
    *,
    scope: str,
    days: int,
    texts: Texts,
    now: datetime,
    catalog: CategoryCatalog | None = None,
) -> str:
    """Gather and format ``/stats`` for ``grids`` over the last ``days`` days (seven
    statements); ``catalog`` names the categories of 常用回复 (default: the built-in one)."""
    metrics = MetricsRepository(storage.db)
    period = Period.last(days, now)
    ids = [g.id for g in grids]
    by_grid = await rates_by_grid(metrics, period, ids)
    medians = await metrics.medians(period.start, period.end, ids)
    offers = await storage.offers.counts(period.start, period.end, ids)
    care = sum((await storage.care.counts(period.start, period.end, ids)).values(), CareCounts())
    people = sum((await storage.care.people_by_grid(ids)).values())
    used = await storage.answers.uses(period.start, period.end, ids, limit=STATS_ANSWERS)
    standings = [Standing(g.name, by_grid[g.id]) for g in grids]
    return stats_text(
        scope=scope,
        days=days,
        rates=Rates.combine(by_grid.values()),
        medians=medians,
        texts=texts,
        standings=standings,
        offers=sum(offers.values(), OfferCounts()),
        care=care if care_shown(people, care) else None,
        answers_used=used,
        catalog=catalog,
    )


# -- all digests of a day -------------------------------------------------------------------------


@dataclass(frozen=True)
class _DayData:
    day: date
    grids: dict[int, GridInfo]
    rates: dict[int, Rates]
    counts: dict[int, dict[str, CategoryDayCounts]]
    overdue: dict[int, list[Ticket]]
    offers: dict[int, OfferCounts]
    care: dict[int, CareCounts]
    care_people: dict[int, int]
    care_overdue: list[DueWithPerson] | None  # the weekly day's overdue care dues, else None

    def rates_of(self, grid_id: int) -> Rates:
        return self.rates.get(grid_id) or Rates.empty()

    def overdue_count(self, grid_id: int) -> int:
        return _total(self.counts.get(grid_id, {}).values()).overdue

    def offers_of(self, grid_ids: Iterable[int]) -> OfferCounts:
        return sum((self.offers.get(g, OfferCounts()) for g in grid_ids), OfferCounts())

    def care_of(self, grid_ids: Collection[int], now: datetime) -> CareFigures | None:
        """The grids' care figures, or None where they keep no roster."""
        counts = sum((self.care.get(g, CareCounts()) for g in grid_ids), CareCounts())
        if not care_shown(sum(self.care_people.get(g, 0) for g in grid_ids), counts):
            return None
        if self.care_overdue is None:
            return CareFigures(counts)
        mine = [item for item in self.care_overdue if item.due.grid_id in grid_ids]
        return CareFigures(counts, overdue_visits(mine, self.grids, now))


async def build_daily_digests(
    storage: Storage,
    *,
    catalog: CategoryCatalog,
    texts: Texts,
    tz: ZoneInfo,
    now: datetime,
    rate_days: int = RATE_DAYS,
    listed: int = OVERDUE_LISTED,
    chat_ids: Collection[int] | None = None,
) -> list[DigestMessage]:
    """Every digest due for the local day of ``now``: one per active grid chat, one per active
    supervisor chat (community: its grids ranked; street: its communities ranked). Chats that
    were unbound get none. ``dedupe_key`` is ``digest:{chat_id}:{local date}``.

    ``chat_ids`` narrows the run to those chats (``/digest`` in one chat): the queries then read
    only the grids those digests show. The texts are the same as in a full run.
    """
    bindings = await storage.grids.bindings()
    if chat_ids is not None:
        wanted = set(chat_ids)
        bindings = [b for b in bindings if b.chat_id in wanted]
    if not bindings:
        return []
    data = await _gather(
        storage,
        bindings,
        tz=tz,
        now=now,
        rate_days=rate_days,
        listed=listed,
        whole=chat_ids is None,
    )
    messages = []
    for binding in bindings:
        text = _digest_for(binding, data, catalog=catalog, texts=texts, now=now, days=rate_days)
        if text is None:
            logger.warning("chat %s has a binding without its grid; no digest", binding.chat_id)
            continue
        messages.append(
            DigestMessage(binding.chat_id, text, DIGEST_KIND, dedupe_key(binding.chat_id, data.day))
        )
    return messages


async def _gather(
    storage: Storage,
    bindings: Collection[ChatBinding],
    *,
    tz: ZoneInfo,
    now: datetime,
    rate_days: int,
    listed: int,
    whole: bool,
) -> _DayData:
    """Everything the digests of ``bindings`` show, in at most ten statements whatever their
    number (the overdue care visits only on CARE_WEEKDAY, and only for supervisor chats)."""
    metrics = MetricsRepository(storage.db)
    day, day_start, day_end = local_day(now, tz)
    grids = {g.id: g for g in await storage.grids.grids()}
    # A full run reads every grid (no filter is cheapest); a narrowed one only the grids shown.
    shown = None if whole else _grids_shown(bindings, grids.values())
    rates = await rates_by_grid(metrics, Period.last(rate_days, now), shown)
    counts = await metrics.day_counts_by_grid(day_start, day_end, now, shown)
    grid_chats = {b.grid_id for b in bindings if b.is_grid and b.grid_id is not None}
    overdue = await metrics.overdue_by_grid(now, listed, grid_chats)
    period = Period.last(rate_days, now)
    offers = await storage.offers.counts(period.start, period.end, shown)
    grid_list = None if shown is None else sorted(shown)
    care = await storage.care.counts(period.start, period.end, grid_list)
    care_people = await storage.care.people_by_grid(grid_list)
    care_overdue = None
    if day.weekday() == CARE_WEEKDAY and any(not b.is_grid for b in bindings):
        care_overdue = await storage.care.overdue(now, grid_list, limit=CARE_OVERDUE_READ)
    return _DayData(day, grids, rates, counts, overdue, offers, care, care_people, care_overdue)


def _grids_shown(bindings: Iterable[ChatBinding], grids: Iterable[GridInfo]) -> set[int]:
    every = list(grids)
    shown: set[int] = set()
    for binding in bindings:
        if binding.is_grid:
            shown.update([binding.grid_id] if binding.grid_id is not None else [])
        elif binding.community_id is not None:
            shown.update(g.id for g in every if g.community_id == binding.community_id)
        else:
            shown.update(g.id for g in every if g.street_id == binding.street_id)
    return shown


def _digest_for(
    binding: ChatBinding,
    data: _DayData,
    *,
    catalog: CategoryCatalog,
    texts: Texts,
    now: datetime,
    days: int,
) -> str | None:
    if binding.is_grid:
        grid = data.grids.get(binding.grid_id) if binding.grid_id is not None else None
        if grid is None:
            return None
        return grid_digest_text(
            grid=grid,
            day=data.day,
            counts=data.counts.get(grid.id, {}),
            overdue=data.overdue.get(grid.id, []),
            rates=data.rates_of(grid.id),
            catalog=catalog,
            texts=texts,
            now=now,
            rate_days=days,
        )
    # A community's supervisor chat has community_id; a street's has only street_id.
    if binding.community_id is not None:
        standings = [
            Standing(g.name, data.rates_of(g.id), data.overdue_count(g.id))
            for g in data.grids.values()
            if g.community_id == binding.community_id
        ]
        name = binding.community_name or ""
        members = [g.id for g in data.grids.values() if g.community_id == binding.community_id]
        return supervisor_digest_text(
            level="community",
            name=name,
            standings=standings,
            day=data.day,
            texts=texts,
            rate_days=days,
            offers=data.offers_of(members),
            care=data.care_of(set(members), now),
        )
    street_grids = [g for g in data.grids.values() if g.street_id == binding.street_id]
    return supervisor_digest_text(
        level="street",
        name=binding.street_name or "",
        standings=_communities(street_grids, data),
        day=data.day,
        texts=texts,
        rate_days=days,
        offers=data.offers_of(g.id for g in street_grids),
        care=data.care_of({g.id for g in street_grids}, now),
    )


def _communities(grids: Iterable[GridInfo], data: _DayData) -> list[Standing]:
    """Each community of ``grids`` with its grids' counts summed."""
    names: dict[int, str] = {}
    members: dict[int, list[int]] = {}
    for grid in grids:
        names[grid.community_id] = grid.community_name
        members.setdefault(grid.community_id, []).append(grid.id)
    return [
        Standing(
            names[community_id],
            Rates.combine(data.rates_of(g) for g in ids),
            sum(data.overdue_count(g) for g in ids),
        )
        for community_id, ids in members.items()
    ]
