"""Ticket lifecycle rules and deadlines (no telegram import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.categories import Category, CategoryCatalog
from bot.parsing import ParsedReport
from storage import (
    ChatBinding,
    MediaItem,
    NewTicket,
    Storage,
    Ticket,
    TicketChange,
)

__all__ = ["IntakeMessage", "MediaItem", "OpenResult", "Ticket", "apply_edit", "open_ticket"]


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
    created: bool

    @property
    def needs_receipt(self) -> bool:
        """New, or a redelivery of one whose receipt never went out (crash before sending)."""
        return self.created or self.ticket.receipt_message_id is None


def deadlines(category: Category, opened_at: datetime) -> tuple[datetime, datetime]:
    """Response and resolution deadlines counted from when the report was opened."""
    return opened_at + category.response, opened_at + category.resolution


async def open_ticket(
    storage: Storage,
    catalog: CategoryCatalog,
    binding: ChatBinding,
    parsed: ParsedReport,
    message: IntakeMessage,
    now: datetime,
) -> OpenResult:
    """Open one ticket for a tagged message; the same message twice gives the same ticket."""
    if parsed.category is None or binding.grid_id is None:
        raise ValueError("only a tagged report in a grid chat opens a ticket")
    category = catalog[parsed.category]
    response_due, resolution_due = deadlines(category, now)
    location = parsed.location
    draft = NewTicket(
        grid_id=binding.grid_id,
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
    ticket, created = await storage.tickets.open(draft)
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
