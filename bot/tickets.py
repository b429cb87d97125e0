"""Ticket lifecycle rules and deadlines (no telegram import).

Every officer action goes through ``act``: the lifecycle table (``LIFECYCLE``) says from which
statuses it may start, storage moves the ticket only if it is still there (two officers at once
cannot both win), and the ``Outcome`` carries the ticket after the move or, refused, as it is now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.categories import Category, CategoryCatalog
from bot.parsing import ParsedReport
from storage import (
    ChatBinding,
    EventDraft,
    GridInfo,
    MediaItem,
    NewTicket,
    OutboxDraft,
    Storage,
    Ticket,
    TicketChange,
)
from storage.tickets import OnMoved, OnOpened
from storage.vocabulary import OPEN_STATUSES, Action, EventKind, Satisfaction, Status

__all__ = [
    "OPEN_STATUSES",
    "Action",
    "Actor",
    "EventKind",
    "IntakeMessage",
    "MediaItem",
    "OpenResult",
    "Outcome",
    "Satisfaction",
    "Status",
    "Ticket",
    "act",
    "allowed",
    "apply_edit",
    "open_ticket",
]


@dataclass(frozen=True)
class IntakeMessage:
    """What intake needs of a resident's message, already free of Telegram types."""

    chat_id: int
    message_id: int
    text: str
    reporter_id: int | None
    reporter_name: str
    sent_at: datetime
    thread_id: int | None = None
    media_group_id: str | None = None
    media: tuple[MediaItem, ...] = ()


@dataclass(frozen=True)
class OpenResult:
    binding: ChatBinding | None  # the chat's active binding, as the opening read it
    ticket: Ticket | None  # None: nothing opened (no grid's chat, or a tag alone: says_enough)
    created: bool = False  # False: the same message was delivered before (one receipt)


def says_enough(parsed: ParsedReport, message: IntakeMessage) -> bool:
    """A tag that needs words (``needs_detail``: #报修 alone) says enough with a photo."""
    return not parsed.needs_detail or bool(message.media)


def deadlines(category: Category, opened_at: datetime) -> tuple[datetime, datetime]:
    """Response and resolution deadlines counted from when the report was opened."""
    return opened_at + category.response, opened_at + category.resolution


def new_ticket(
    catalog: CategoryCatalog,
    grid_id: int,
    parsed: ParsedReport,
    message: IntakeMessage,
    now: datetime,
) -> NewTicket:
    """The ticket a tagged message asks for, with its deadlines counted from ``now``."""
    if parsed.category is None:
        raise ValueError("only a tagged report opens a ticket")
    category = catalog[parsed.category]
    response_due, resolution_due = deadlines(category, now)
    location = parsed.location
    return NewTicket(
        grid_id=grid_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        thread_id=message.thread_id,
        media_group_id=message.media_group_id,
        category=category.key,
        labels=parsed.labels,
        text=message.text,
        body=parsed.body,
        estate=location.estate,
        building=location.building,
        unit=location.unit,
        room=location.room,
        reporter_id=message.reporter_id,
        reporter_name=message.reporter_name,
        created_at=now,
        response_due=response_due,
        resolution_due=resolution_due,
        media=message.media,
    )


async def open_ticket(
    storage: Storage,
    catalog: CategoryCatalog,
    parsed: ParsedReport,
    message: IntakeMessage,
    now: datetime,
    then: OnOpened | None = None,
    *,
    stashed: bool = False,
) -> OpenResult:
    """Open one ticket for a tagged message when its chat is a grid's and it says enough; the
    same message twice gives the same ticket. The chat's binding is read in the opening's own
    hand-over. ``then``: what else a new ticket owes, queued in its transaction
    (storage.tickets.OnOpened); ``stashed``: the message's files were kept as an album's items,
    which the ticket adopts."""

    def draft_for(binding: ChatBinding | None) -> NewTicket | None:
        if binding is None or not binding.is_grid or binding.grid_id is None:
            return None
        if not says_enough(parsed, message):
            return None
        draft = new_ticket(catalog, binding.grid_id, parsed, message, now)
        return replace(draft, media=()) if stashed else draft

    # the receipt's likely duplicates are found in the opening transaction, with the ticket
    since = now - DUPLICATE_WINDOW
    binding, opened = await storage.tickets.open_if_bound(
        message.chat_id, draft_for, receipt=True, duplicates_since=since, then=then
    )
    if opened is None:
        return OpenResult(binding, None)
    return OpenResult(binding, *opened)


async def apply_edit(
    storage: Storage,
    catalog: CategoryCatalog,
    ticket: Ticket,
    parsed: ParsedReport,
    message: IntakeMessage,
    now: datetime,
) -> Ticket | None:
    """The resident edited the message: take the new text while the ticket is still new."""
    if ticket.status != Status.NEW or parsed.category is None or parsed.needs_detail:
        return None
    category = catalog[parsed.category]
    response_due, resolution_due = deadlines(category, ticket.created_at)
    change = TicketChange(
        category=category.key,
        labels=parsed.labels,
        text=message.text,
        body=parsed.body,
        estate=parsed.location.estate,
        building=parsed.location.building,
        unit=parsed.location.unit,
        room=parsed.location.room,
        response_due=response_due,
        resolution_due=resolution_due,
    )
    return await storage.tickets.apply_edit(
        ticket.id, change, actor_id=message.reporter_id, actor_name=message.reporter_name, now=now
    )


# -- the lifecycle (DESIGN.md "Statuses") ---------------------------------------------------

OPEN = OPEN_STATUSES
REOPENABLE = (Status.RESOLVED, Status.CLOSED, Status.REJECTED)
RATABLE = (Status.RESOLVED,)  # the 回访 asks about a resolved ticket only
ANY_STATUS = tuple(Status)
DUPLICATE_WINDOW = timedelta(days=7)  # a same-place report this recent may be the same problem
FOLLOWUP_AFTER = timedelta(hours=1)  # the default wait before the 回访 (FOLLOWUP_DELAY)
TOP_ESCALATION = 2  # 1 the community's office, 2 the street's

# action -> (statuses it may start from, status it leads to; None: the status stays)
LIFECYCLE: dict[Action, tuple[tuple[Status, ...], Status | None]] = {
    Action.TAKE: (OPEN, Status.ACCEPTED),
    Action.ASSIGN: (OPEN, Status.ACCEPTED),
    Action.PROGRESS: (OPEN, Status.ACCEPTED),
    Action.NOTE: (ANY_STATUS, None),  # history only, never posted to residents
    Action.DONE: (OPEN, Status.RESOLVED),
    Action.REJECT: (OPEN, Status.REJECTED),
    Action.DUPLICATE: (OPEN, Status.DUPLICATE),
    Action.REOPEN: (REOPENABLE, Status.ACCEPTED),
    Action.ESCALATE: (OPEN, None),  # raises the level (community, then street)
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (user id) or an anonymous group admin (no id)."""

    user_id: int | None
    name: str


@dataclass(frozen=True)
class Outcome:
    """What an action did: ``moved``, the ticket after it; refused, the ticket as it is now."""

    ticket: Ticket
    moved: bool


def allowed(action: Action, status: Status) -> bool:
    return status in LIFECYCLE[action][0]


def next_escalation(ticket: Ticket) -> int | None:
    """The level an officer's /escalate raises ``ticket`` to; None once the street knows."""
    return None if ticket.escalation_level >= TOP_ESCALATION else ticket.escalation_level + 1


def _event(kind: EventKind, actor: Actor, now: datetime, note: str = "") -> EventDraft:
    return EventDraft(kind, actor.user_id, actor.name, now, note)


async def _move(
    storage: Storage,
    ticket: Ticket,
    action: Action,
    actor: Actor,
    now: datetime,
    changes: Mapping[str, object] | None = None,
    note: str = "",
    then: OnMoved | None = None,
) -> Ticket | None:
    starts, to = LIFECYCLE[action]
    if to is None:
        raise ValueError(f"{action} keeps the status")
    return await storage.tickets.transition(
        ticket.id,
        allowed_from=starts,
        to=to,
        changes=changes or {},
        event=_event(EventKind(action), actor, now, note),
        then=then,
    )


async def settle(storage: Storage, before: Ticket, after: Ticket | None) -> Outcome:
    """The outcome of a move: the ticket after it, or, refused, the ticket read anew."""
    if after is not None:
        return Outcome(after, moved=True)
    return Outcome(await storage.tickets.get(before.id) or before, moved=False)


async def act(
    storage: Storage,
    action: Action,
    ticket: Ticket,
    actor: Actor,
    now: datetime,
    words: str = "",
    *,
    assignee: Actor | None = None,
    followup_after: timedelta = FOLLOWUP_AFTER,
    then: OnMoved | None = None,
) -> Outcome:
    """One officer action with its words (a progress note, a reason), checked against the
    lifecycle first. /assign names the ``assignee``; /dup and /escalate have their own calls.
    ``then`` runs in the move's transaction and may undo it (storage.tickets.OnMoved): a 💬
    ready answer uses its draft there; not for a note, which moves nothing."""
    if not allowed(action, ticket.status):
        return Outcome(ticket, moved=False)
    after: Ticket | None
    match action:
        case Action.TAKE:
            after = await take(storage, ticket, actor, now, then)
        case Action.ASSIGN:
            if assignee is None:
                raise ValueError("assign names the assignee")
            after = await assign(storage, ticket, actor, assignee, now, then)
        case Action.PROGRESS:
            after = await progress(storage, ticket, actor, words, now, then)
        case Action.NOTE:
            if then is not None:
                raise ValueError("a note moves nothing: nothing to run with its move")
            return Outcome(ticket, moved=await note(storage, ticket, actor, words, now))
        case Action.DONE:
            after = await done(storage, ticket, actor, words, now, followup_after, then)
        case Action.REJECT:
            after = await reject(storage, ticket, actor, words, now, then)
        case Action.REOPEN:
            after = await reopen(storage, ticket, actor, words, now, then)
        case Action.DUPLICATE | Action.ESCALATE:
            raise ValueError(f"{action} is not done with words: see mark_duplicate, escalate")
    return await settle(storage, ticket, after)


async def take(
    storage: Storage, ticket: Ticket, actor: Actor, now: datetime, then: OnMoved | None = None
) -> Ticket | None:
    changes = {"assignee_id": actor.user_id, "assignee_name": actor.name}
    return await _move(storage, ticket, Action.TAKE, actor, now, changes, then=then)


async def assign(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    assignee: Actor,
    now: datetime,
    then: OnMoved | None = None,
) -> Ticket | None:
    changes = {"assignee_id": assignee.user_id, "assignee_name": assignee.name}
    return await _move(
        storage, ticket, Action.ASSIGN, actor, now, changes, note=assignee.name, then=then
    )


async def progress(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    text: str,
    now: datetime,
    then: OnMoved | None = None,
) -> Ticket | None:
    """A public update: the first one also counts as the officer's response."""
    return await _move(storage, ticket, Action.PROGRESS, actor, now, note=text, then=then)


async def note(storage: Storage, ticket: Ticket, actor: Actor, text: str, now: datetime) -> bool:
    """An internal note: history only, never posted to residents; any status."""
    return await storage.tickets.record(ticket.id, _event(EventKind.NOTE, actor, now, text))


async def done(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    text: str,
    now: datetime,
    followup_after: timedelta = FOLLOWUP_AFTER,
    then: OnMoved | None = None,
) -> Ticket | None:
    """Resolved; the reporter is asked (回访) ``followup_after`` from now."""
    changes: dict[str, object] = {
        "resolved_at": now,
        "followup_due": now + followup_after,
        "followup_asked_at": None,
        "followup_reminded_at": None,
    }
    if ticket.assignee_id is None and ticket.assignee_name is None:
        changes |= {"assignee_id": actor.user_id, "assignee_name": actor.name}
    return await _move(storage, ticket, Action.DONE, actor, now, changes, note=text, then=then)


async def reject(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    reason: str,
    now: datetime,
    then: OnMoved | None = None,
) -> Ticket | None:
    changes = {"closed_at": now}
    return await _move(storage, ticket, Action.REJECT, actor, now, changes, note=reason, then=then)


async def mark_duplicate(
    storage: Storage, ticket: Ticket, original: Ticket, actor: Actor, now: datetime
) -> Ticket | None:
    return await storage.tickets.merge_duplicate(
        ticket.id, original.id, _event(EventKind.DUPLICATE, actor, now)
    )


async def reopen(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    reason: str,
    now: datetime,
    then: OnMoved | None = None,
) -> Ticket | None:
    changes: dict[str, object] = {
        "reopen_count": ticket.reopen_count + 1,
        "resolved_at": None,
        "closed_at": None,
        "followup_due": None,
        "followup_asked_at": None,
        "followup_reminded_at": None,
    }
    return await _move(storage, ticket, Action.REOPEN, actor, now, changes, note=reason, then=then)


# the 回访 buttons' letters (bot.callbacks.RatingPress) and what each one means
RATINGS: dict[str, Satisfaction] = {
    "s": Satisfaction.SATISFIED,
    "b": Satisfaction.BASIC,
    "u": Satisfaction.UNSATISFIED,
}


async def rate(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    rating: Satisfaction,
    now: datetime,
    messages: Sequence[OutboxDraft] = (),
) -> Ticket | None:
    """The reporter's 回访 answer: 满意/基本满意 close the ticket; 不满意 reopens it (重办)
    and queues ``messages`` with the move. None: it was rated (or moved) already."""
    if rating == Satisfaction.UNSATISFIED:
        changes: dict[str, object] = {
            "satisfaction": rating,
            "rated_at": now,
            "reopen_count": ticket.reopen_count + 1,
            "resolved_at": None,
            "followup_due": None,
            "followup_asked_at": None,
            "followup_reminded_at": None,
        }
        return await storage.tickets.transition(
            ticket.id,
            allowed_from=RATABLE,
            to=Status.ACCEPTED,
            changes=changes,
            event=_event(EventKind.RATED, actor, now, rating),
            messages=messages,
        )
    return await storage.tickets.transition(
        ticket.id,
        allowed_from=RATABLE,
        to=Status.CLOSED,
        changes={"satisfaction": rating, "rated_at": now, "closed_at": now, "followup_due": None},
        event=_event(EventKind.RATED, actor, now, rating),
    )


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """Open past its resolution deadline, or resolved after it."""
    if ticket.resolved_at is not None:
        return ticket.resolved_at > ticket.resolution_due
    return ticket.status in OPEN and now > ticket.resolution_due


async def replied_ticket(storage: Storage, chat_id: int, message_id: int) -> Ticket | None:
    """The ticket whose report, or whose receipt, is message ``message_id`` of the chat."""
    tickets = storage.tickets
    return await tickets.by_message(chat_id, message_id) or await tickets.by_receipt(
        chat_id, message_id
    )


async def open_patrol(
    storage: Storage,
    catalog: CategoryCatalog,
    grid: GridInfo,
    parsed: ParsedReport,
    message: IntakeMessage,
    now: datetime,
) -> Ticket:
    """民情日记: what an officer found on patrol, opened as his own ticket in progress."""
    draft = replace(
        new_ticket(catalog, grid.id, parsed, message, now),
        source="patrol",
        status=Status.ACCEPTED,
        assignee_id=message.reporter_id,
        assignee_name=message.reporter_name,
        accepted_at=now,
    )
    ticket, _ = await storage.tickets.open(draft)
    return ticket


async def comment(storage: Storage, ticket: Ticket, actor: Actor, text: str, now: datetime) -> bool:
    """The reporter says why she is not satisfied: kept in the ticket's history."""
    return await storage.tickets.record(ticket.id, _event(EventKind.FEEDBACK, actor, now, text))
