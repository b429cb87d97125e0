"""Ticket lifecycle rules and deadlines (no telegram import)."""

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

__all__ = [
    "Actor",
    "IntakeMessage",
    "MediaItem",
    "OpenResult",
    "Ticket",
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
    ticket: Ticket
    created: bool  # False: the same message was delivered before (its receipt is queued once)


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
    binding: ChatBinding,
    parsed: ParsedReport,
    message: IntakeMessage,
    now: datetime,
) -> OpenResult:
    """Open one ticket for a tagged message; the same message twice gives the same ticket."""
    if binding.grid_id is None:
        raise ValueError("only a grid chat opens tickets")
    draft = new_ticket(catalog, binding.grid_id, parsed, message, now)
    ticket, created = await storage.tickets.open(draft, receipt=True)
    return OpenResult(ticket, created)


async def apply_edit(
    storage: Storage,
    catalog: CategoryCatalog,
    ticket: Ticket,
    parsed: ParsedReport,
    message: IntakeMessage,
    now: datetime,
) -> Ticket | None:
    """The resident edited the message: take the new text while the ticket is still new."""
    if ticket.status != "new" or parsed.category is None or parsed.needs_detail:
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

OPEN = ("new", "accepted")
DUPLICATE_WINDOW = timedelta(days=7)  # a same-place report this recent may be the same problem
# action -> (statuses it may start from, status it leads to)
LIFECYCLE: dict[str, tuple[tuple[str, ...], str]] = {
    "take": (OPEN, "accepted"),
    "assign": (OPEN, "accepted"),
    "progress": (OPEN, "accepted"),
    "done": (OPEN, "resolved"),
    "reject": (OPEN, "rejected"),
    "duplicate": (OPEN, "duplicate"),
    "reopen": (("resolved", "closed", "rejected"), "accepted"),
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (user id) or an anonymous group admin (no id)."""

    user_id: int | None
    name: str


def allowed(action: str, status: str) -> bool:
    return status in LIFECYCLE[action][0]


def _event(kind: str, actor: Actor, now: datetime, note: str = "") -> EventDraft:
    return EventDraft(kind, actor.user_id, actor.name, now, note)


async def _move(
    storage: Storage,
    ticket: Ticket,
    action: str,
    actor: Actor,
    now: datetime,
    changes: Mapping[str, object] | None = None,
    note: str = "",
) -> Ticket | None:
    starts, to = LIFECYCLE[action]
    return await storage.tickets.transition(
        ticket.id,
        allowed_from=starts,
        to=to,
        changes=changes or {},
        event=_event(action, actor, now, note),
    )


async def take(storage: Storage, ticket: Ticket, actor: Actor, now: datetime) -> Ticket | None:
    changes = {"assignee_id": actor.user_id, "assignee_name": actor.name}
    return await _move(storage, ticket, "take", actor, now, changes)


async def assign(
    storage: Storage, ticket: Ticket, actor: Actor, assignee: Actor, now: datetime
) -> Ticket | None:
    changes = {"assignee_id": assignee.user_id, "assignee_name": assignee.name}
    return await _move(storage, ticket, "assign", actor, now, changes, note=assignee.name)


async def progress(
    storage: Storage, ticket: Ticket, actor: Actor, text: str, now: datetime
) -> Ticket | None:
    """A public update: the first one also counts as the officer's response."""
    return await _move(storage, ticket, "progress", actor, now, note=text)


async def note(storage: Storage, ticket: Ticket, actor: Actor, text: str, now: datetime) -> bool:
    """An internal note: history only, never posted to residents; any status."""
    return await storage.tickets.record(ticket.id, _event("note", actor, now, text))


async def done(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    text: str,
    now: datetime,
    followup_after: timedelta = timedelta(hours=1),
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
    return await _move(storage, ticket, "done", actor, now, changes, note=text)


async def reject(
    storage: Storage, ticket: Ticket, actor: Actor, reason: str, now: datetime
) -> Ticket | None:
    return await _move(storage, ticket, "reject", actor, now, {"closed_at": now}, note=reason)


async def mark_duplicate(
    storage: Storage, ticket: Ticket, original: Ticket, actor: Actor, now: datetime
) -> Ticket | None:
    return await storage.tickets.merge_duplicate(
        ticket.id, original.id, _event("duplicate", actor, now)
    )


async def reopen(
    storage: Storage, ticket: Ticket, actor: Actor, reason: str, now: datetime
) -> Ticket | None:
    changes: dict[str, object] = {
        "reopen_count": ticket.reopen_count + 1,
        "resolved_at": None,
        "closed_at": None,
        "followup_due": None,
        "followup_asked_at": None,
        "followup_reminded_at": None,
    }
    return await _move(storage, ticket, "reopen", actor, now, changes, note=reason)


RATINGS = {"s": "satisfied", "b": "basic", "u": "unsatisfied"}


async def rate(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    rating: str,
    now: datetime,
    messages: Sequence[OutboxDraft] = (),
) -> Ticket | None:
    """The reporter's 回访 answer: 满意/基本满意 close the ticket; 不满意 reopens it (重办)."""
    if rating == "unsatisfied":
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
            allowed_from=("resolved",),
            to="accepted",
            changes=changes,
            event=_event("rated", actor, now, rating),
            messages=messages,
        )
    return await storage.tickets.transition(
        ticket.id,
        allowed_from=("resolved",),
        to="closed",
        changes={"satisfaction": rating, "rated_at": now, "closed_at": now, "followup_due": None},
        event=_event("rated", actor, now, rating),
    )


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """Open past its resolution deadline, or resolved after it."""
    if ticket.resolved_at is not None:
        return ticket.resolved_at > ticket.resolution_due
    return ticket.status in OPEN and now > ticket.resolution_due


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
        status="accepted",
        assignee_id=message.reporter_id,
        assignee_name=message.reporter_name,
        accepted_at=now,
    )
    ticket, _ = await storage.tickets.open(draft)
    return ticket


async def comment(storage: Storage, ticket: Ticket, actor: Actor, text: str, now: datetime) -> bool:
    """The reporter says why she is not satisfied: kept in the ticket's history."""
    return await storage.tickets.record(ticket.id, _event("feedback", actor, now, text))
