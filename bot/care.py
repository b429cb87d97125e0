"""关爱走访: people who need regular visits, the visits, and what falls due (no telegram).

The rules, each in one place:

* **Cadence**: a person's tier (``CategoryCatalog.tiers``: 高风险 every 7 days, 重点 30, 一般 90,
  each with a grace window) says when the next visit is owed: ``every`` after the last visit
  (or after being added, or resumed), on time until ``grace`` after that.
* **A visit** settles what was owed when the person was reached (正常, 异常需跟进, 拒访), and the
  next regular visit is owed from it. 未见到 settles nothing; the second in a row tells the
  community's office at once. 异常需跟进 opens an urgent 求助 ticket in the person's grid, whose
  receipt names nobody (the number on the roster only).
* **The tick** (:func:`tick`, from ``bot.schedule``): the visitor is reminded privately on the
  due date, outside quiet hours; a visit not made by the end of its window goes to the
  community's office chats, and one period later to the street's (like an overdue ticket).
* **Rounds**: ``/care round 高温 高风险`` makes every active person of the tier (in the
  starter's grids) owe a visit now, until the round's own deadline.
* **探访按期率** = dues settled within their window ÷ dues that fell due (their window ended in the
  period, or they were settled in it); see :meth:`storage.care.CareRepository.counts`.

Names, addresses and notes go only to the people who may see them (the handlers check roles;
the tick writes only to the visitor and to office chats) and are never logged at INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from bot.callbacks import CarePress, encode
from bot.categories import CareTier, Category, CategoryCatalog
from bot.grids import office_chats
from bot.parsing.care import FIELD_LIMIT, NAME_LIMIT, NOTE_LIMIT, clean
from bot.parsing.contacts import mask_sensitive
from bot.texts import SYSTEM_ACTOR, Texts
from storage import NewTicket, OutboxDraft, Storage
from storage.care import (
    CareCounts,
    CareEventDraft,
    CarePerson,
    CareRound,
    DueDraft,
    DueWithPerson,
    PersonDraft,
    RecordedVisit,
    VisitDraft,
)
from storage.vocabulary import CareEventKind, CareStatus, DueKind, VisitOutcome, VisitWay

logger = logging.getLogger(__name__)

MISSED_ALARM = 2  # 未见到 this many times in a row: the community's office hears at once


@dataclass(frozen=True)
class Desk:
    """What the care rules need of the running bot (``bot.context.Runtime`` has it all)."""

    storage: Storage
    catalog: CategoryCatalog
    texts: Texts
    tz: ZoneInfo


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str


# -- tiers and what falls due ---------------------------------------------------------------


def tier_of(catalog: CategoryCatalog, name: str) -> CareTier:
    """A person's tier; a tier the categories file no longer has counts as its most frequent
    one (a visit too many rather than one too few)."""
    tier = catalog.tier(name)
    if tier is None:
        strictest = min(catalog.tiers, key=lambda t: t.every)
        logger.warning("care tier %r is not in the categories file; using %s", name, strictest.name)
        return strictest
    return tier


def regular_due(tier: CareTier, after: datetime) -> DueDraft:
    """The next regular visit: ``every`` after ``after``, on time until ``grace`` later."""
    due = after + tier.every
    return DueDraft(due, due + tier.grace, tier.every, DueKind.CYCLE)


def due_now(tier: CareTier, now: datetime) -> DueDraft:
    """Owed at once (a person resumed after a pause): on time until the tier's grace."""
    return DueDraft(now, now + max(tier.grace, timedelta(days=1)), tier.every, DueKind.CYCLE)


# -- the roster -----------------------------------------------------------------------------


def _event(kind: CareEventKind, actor: Actor, now: datetime, note: str = "") -> CareEventDraft:
    return CareEventDraft(kind, actor.user_id, actor.name, now, note)


async def add(
    desk: Desk,
    *,
    grid_id: int,
    name: str,
    address: str,
    tier: CareTier,
    visitor: Actor,
    actor: Actor,
    now: datetime,
    contact: str = "",
    notes: str = "",
) -> CarePerson:
    """Put a person on the roster; the first regular visit is owed one period from now."""
    draft = PersonDraft(
        grid_id=grid_id,
        name=clean(name, NAME_LIMIT),
        address=clean(address, FIELD_LIMIT),
        tier=tier.name,
        visitor_id=visitor.user_id,
        visitor_name=visitor.name,
        contact=clean(contact, FIELD_LIMIT),
        notes=notes.strip()[:NOTE_LIMIT],
    )
    return await desk.storage.care.add(
        draft, regular_due(tier, now), _event(CareEventKind.ADDED, actor, now, tier.name)
    )


async def edit(
    desk: Desk,
    person: CarePerson,
    *,
    actor: Actor,
    now: datetime,
    name: str | None = None,
    address: str | None = None,
    tier: CareTier | None = None,
    visitor: Actor | None = None,
    contact: str | None = None,
    notes: str | None = None,
) -> CarePerson | None:
    """Change what the roster says; a new tier re-plans the next regular visit from the last
    one (or from when the person was added). None: the person has ended."""
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = clean(name, NAME_LIMIT)
    if address is not None:
        changes["address"] = clean(address, FIELD_LIMIT)
    if contact is not None:
        changes["contact"] = clean(contact, FIELD_LIMIT)
    if notes is not None:
        changes["notes"] = notes.strip()[:NOTE_LIMIT]
    if visitor is not None:
        changes["visitor_id"], changes["visitor_name"] = visitor.user_id, visitor.name
    replan = None
    if tier is not None and tier.name != person.tier:
        changes["tier"] = tier.name
        replan = regular_due(tier, person.last_visit_at or person.created_at)
        if replan.window_end <= now:  # already past under the new cadence: owed now, not missed
            replan = due_now(tier, now)
    fields = ",".join(sorted(changes))
    return await desk.storage.care.edit(
        person.id, changes, _event(CareEventKind.EDITED, actor, now, fields), replan
    )


async def pause(
    desk: Desk, person: CarePerson, reason: str, actor: Actor, now: datetime
) -> CarePerson | None:
    """暂停 (in hospital, staying with family): nothing falls due until resumed."""
    return await _set_aside(
        desk, person, CareStatus.PAUSED, CareEventKind.PAUSED, reason, actor, now
    )


async def resume(desk: Desk, person: CarePerson, actor: Actor, now: datetime) -> CarePerson | None:
    """Back on the roster: a visit is owed at once (within the tier's grace)."""
    tier = tier_of(desk.catalog, person.tier)
    return await desk.storage.care.set_status(
        person.id,
        to=CareStatus.ACTIVE,
        note="",
        event=_event(CareEventKind.RESUMED, actor, now),
        next_due=due_now(tier, now),
    )


async def end(
    desk: Desk, person: CarePerson, reason: str, actor: Actor, now: datetime
) -> CarePerson | None:
    """结束 (moved away, passed away): kept for the record, never due again."""
    return await _set_aside(desk, person, CareStatus.ENDED, CareEventKind.ENDED, reason, actor, now)


async def _set_aside(
    desk: Desk,
    person: CarePerson,
    to: CareStatus,
    kind: CareEventKind,
    reason: str,
    actor: Actor,
    now: datetime,
) -> CarePerson | None:
    """Pause or end ``person`` (status ``to``, event ``kind``) for ``reason``, kept as the
    status's note and the event's: what was owed is cancelled. None: refused by the status."""
    note = clean(reason, FIELD_LIMIT)
    return await desk.storage.care.set_status(
        person.id, to=to, note=note, event=_event(kind, actor, now, note)
    )


# -- visits ---------------------------------------------------------------------------------


def help_category(catalog: CategoryCatalog) -> Category:
    """The category of a ticket a visit opens: 求助 (key ``help``), else the first urgent one."""
    found = catalog.get("help")
    if found is not None:
        return found
    return next((c for c in catalog if c.urgent), catalog.categories[0])


async def record_visit(
    desk: Desk,
    person: CarePerson,
    *,
    outcome: VisitOutcome,
    way: VisitWay,
    note: str,
    actor: Actor,
    now: datetime,
    grid_chat_id: int | None,
    photos: Sequence[str] = (),
    source: tuple[int, int] | None = None,
) -> RecordedVisit | None:
    """Record one visit and everything it changes (see the module's rules), in one transaction.

    ``grid_chat_id``: the grid's group, where a 异常需跟进 ticket's receipt goes (without the
    person's name); with none, the ticket is kept in the chat the visit was recorded in.
    ``source``: the (chat, message) that recorded it, so a replay records nothing twice.
    None: the person is not active (paused or ended).
    """
    tier = tier_of(desk.catalog, person.tier)
    texts = desk.texts
    draft = VisitDraft(
        person_id=person.id,
        visited_at=now,
        visitor_id=actor.user_id,
        visitor_name=actor.name,
        way=way,
        outcome=outcome,
        note=note.strip()[:NOTE_LIMIT],
        photos=tuple(photos),
        source_chat_id=source[0] if source else None,
        source_message_id=source[1] if source else None,
    )
    ticket: NewTicket | None = None
    receipt = True
    if outcome is VisitOutcome.CONCERN:
        category = help_category(desk.catalog)
        chat_id = grid_chat_id if grid_chat_id is not None else (source[0] if source else 0)
        receipt = grid_chat_id is not None
        body = texts("care.ticket_body", person=person.id)
        ticket = NewTicket(
            grid_id=person.grid_id,
            chat_id=chat_id,
            message_id=0,  # storage: the visit's id, negated (a ticket of no message)
            category=category.key,
            text=body,
            body=body,
            reporter_id=None,
            reporter_name=texts("care.reporter"),
            created_at=now,
            response_due=now + category.response,
            resolution_due=now + category.resolution,
        )
    notices: list[OutboxDraft] = []
    if ticket is not None and grid_chat_id is None:
        # no group for its receipt (the grid is unbound): the office hears of it now
        notices, _ = await _office_messages(
            desk, person, 1, texts("care.alarm_concern"), now, f"concern:{person.id}:{now}"
        )
    alarm: list[OutboxDraft] = []
    if outcome is VisitOutcome.UNSEEN and person.missed_in_row + 1 >= MISSED_ALARM:
        alarm, _ = await _office_messages(
            desk,
            person,
            1,
            texts("care.alarm_unseen", times=person.missed_in_row + 1),
            now,
            f"unseen:{person.id}:{now.isoformat()}",
        )
    note_text = f"{outcome} {way}"
    return await desk.storage.care.record_visit(
        draft,
        _event(CareEventKind.VISITED, actor, now, note_text),
        next_due=regular_due(tier, now) if outcome.settles else None,
        ticket=ticket,
        receipt=receipt,
        settles_before=start_of_day_after(now, desk.tz),
        alarm_after_missed=MISSED_ALARM if alarm else 0,
        alarm=alarm,
        notices=notices,
    )


# -- rounds ---------------------------------------------------------------------------------


async def start_round(
    desk: Desk,
    *,
    name: str,
    tier: CareTier,
    grid_ids: Sequence[int] | None,
    deadline: timedelta | None,
    actor: Actor,
    now: datetime,
) -> tuple[CareRound, list[int]]:
    """An extra round for a tier (heat wave, cold snap, holiday): everyone of the tier in the
    grids (None: all) owes a visit now, until ``deadline`` (default: the tier's grace, at
    least a day). The visitors are reminded at the next tick outside quiet hours."""
    window = deadline if deadline is not None else max(tier.grace, timedelta(days=1))
    return await desk.storage.care.start_round(
        name=clean(name, NAME_LIMIT),
        tier=tier.name,
        grid_ids=grid_ids,
        started_by=actor.user_id,
        started_by_name=actor.name,
        now=now,
        deadline=now + window,
    )


# -- figures --------------------------------------------------------------------------------


async def on_time(
    storage: Storage, start: datetime, end: datetime, grid_ids: Sequence[int] | None = None
) -> CareCounts:
    """探访按期率 of the grids (None: every grid) over [start, end), as numerator/denominator."""
    total = CareCounts()
    for counts in (await storage.care.counts(start, end, grid_ids)).values():
        total += counts
    return total


# -- the tick -------------------------------------------------------------------------------


@dataclass
class CareTickReport:
    reminders: int = 0
    escalations: int = 0


MaySee = Callable[
    [int, int], Awaitable[bool]
]  # (user id, grid id): may this person see the roster?


def start_of_day_after(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight at the end of ``now``'s local day: dues before it are due "today"."""
    local = now.astimezone(tz)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    return tomorrow


async def tick(desk: Desk, now: datetime, *, quiet: bool, may_see: MaySee) -> CareTickReport:
    """Reminders on the due date and escalations of missed visits; nothing during quiet hours.
    Each is a guarded claim with its history row and messages: safe to run twice."""
    report = CareTickReport()
    if quiet:
        return report
    for item in await desk.storage.care.reminders_due(start_of_day_after(now, desk.tz)):
        report.reminders += await _remind(desk, item, now, may_see)
    for item in await desk.storage.care.escalations_due(now):
        report.escalations += await _escalate(desk, item, now)
    return report


def _system(now: datetime, kind: CareEventKind, note: str = "") -> CareEventDraft:
    return CareEventDraft(kind, None, SYSTEM_ACTOR, now, note)


async def _remind(desk: Desk, item: DueWithPerson, now: datetime, may_see: MaySee) -> int:
    person, due = item.person, item.due
    texts, tz = desk.texts, desk.tz
    messages: list[OutboxDraft] = []
    visitor = person.visitor_id
    if visitor is not None and await may_see(visitor, person.grid_id):
        key = "care.remind_round" if due.kind is DueKind.ROUND else "care.remind"
        text = texts(
            key,
            id=person.id,
            name=escape(person.name),
            address=escape(person.address or "-"),
            tier=escape(person.tier),
            due=texts.moment(due.due_at, tz),
            until=texts.moment(due.window_end, tz),
            last=texts.moment(person.last_visit_at, tz)
            if person.last_visit_at
            else texts("care.never"),
        )
        keyboard = [[[texts("care.button_visit"), encode(CarePress("visit", person.id))]]]
        messages.append(
            OutboxDraft(
                chat_id=visitor,
                kind="care_reminder",
                text=text,
                payload={"keyboard": keyboard},
                dedupe_key=f"care:remind:{due.id}",
                not_before=now,
            )
        )
    else:
        # the visitor no longer works the grid (or Telegram could not say): the office, which
        # may read the roster, names another — never the residents' group
        reason = texts("care.visitor_gone", visitor=escape(mask_sensitive(person.visitor_name)))
        messages, _office = await _office_messages(desk, person, 1, reason, now, f"remind:{due.id}")
    claimed = await desk.storage.care.claim_reminder(
        due.id, _system(now, CareEventKind.REMINDED, due.kind), messages
    )
    return int(claimed)


async def _escalate(desk: Desk, item: DueWithPerson, now: datetime) -> int:
    due = item.due
    level = due.escalation_level + 1
    since = desk.texts.moment(due.window_end, desk.tz)
    key = "care.alarm_missed" if level == 1 else "care.alarm_street"
    reason = desk.texts(key, since=since)
    messages, office = await _office_messages(
        desk, item.person, level, reason, now, f"{due.id}:{level}"
    )
    if office is None:
        logger.debug("care due %s: no office chat to tell", due.id)
        return 0
    # a community without an office chat: its street heard at once, and once
    claimed = await desk.storage.care.claim_escalation(
        due.id,
        from_level=due.escalation_level,
        to_level=max(level, office),
        event=_system(now, CareEventKind.ESCALATED, str(office)),
        messages=messages,
    )
    return int(claimed)


async def _office_messages(
    desk: Desk,
    person: CarePerson,
    level: int,
    reason: str,
    now: datetime,
    tag: str,
) -> tuple[list[OutboxDraft], int | None]:
    """The alarm for the community's (level 1) or street's (level 2) office chats — staff, who
    may read the roster; any number in it masked all the same (a group reads it) — and which
    office they are (None: no office chat at all). ``tag`` makes each alarm's dedupe key."""
    grid = await desk.storage.grids.grid(person.grid_id)
    if grid is None:
        return [], None
    chats, office = await office_chats(desk.storage, grid, level)
    if not chats:
        return [], None
    texts = desk.texts
    text = texts(
        "care.alarm",
        reason=reason,
        id=person.id,
        grid=escape(grid.name),
        community=escape(grid.community_name),
        name=escape(mask_sensitive(person.name)),
        address=escape(mask_sensitive(person.address) or "-"),
        tier=escape(person.tier),
        visitor=escape(mask_sensitive(person.visitor_name) or "-"),
        contact=escape(mask_sensitive(person.contact) or "-"),
        last=texts.moment(person.last_visit_at, desk.tz)
        if person.last_visit_at
        else texts("care.never"),
    )
    messages = [
        OutboxDraft(
            chat_id=chat_id,
            kind="care_alarm",
            text=text,
            dedupe_key=f"care:alarm:{tag}:{chat_id}",
            not_before=now,
        )
        for chat_id in chats
    ]
    return messages, office
