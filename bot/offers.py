"""Offers (登记提示): hearing an untagged problem and opening its ticket when someone says so.

No telegram here. ``handlers.offers`` decides which messages are a person's own words in a
grid group and asks :func:`hear`; a press goes through :func:`accept`, which opens the ticket
the way a tagged message would (``bot.parsing.parse_report`` and ``bot.tickets.new_ticket``,
with the chosen category instead of a tag) in one transaction with the offer's answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.categories import CategoryCatalog
from bot.classify import Reading, read_message
from bot.parsing import ParsedReport, parse_report
from bot.tickets import DUPLICATE_WINDOW, IntakeMessage, new_ticket
from storage import Acceptance, ChatBinding, Offer, OfferDraft, OfferStatus, Storage, Ticket
from storage.tickets import OnOpened

logger = logging.getLogger(__name__)

LIFETIME = timedelta(hours=24)  # an offer not answered by then expires


def hear(text: str, catalog: CategoryCatalog) -> Reading | None:
    """The reading of an untagged message that reads like a problem; None for a tagged one
    (intake opened its ticket) or for chatter."""
    if not text.strip() or parse_report(text, catalog).is_report:
        return None
    reading = read_message(text, catalog)
    return reading if reading.is_problem else None


async def make_offer(
    storage: Storage,
    binding: ChatBinding,
    message: IntakeMessage,
    reading: Reading,
    now: datetime,
    interval: timedelta,
) -> Offer | None:
    """Record the offer for ``message``; None when the group had one within ``interval`` or
    the message has one already (a redelivered update)."""
    if binding.grid_id is None:
        raise ValueError("only a grid chat gets offers")
    draft = OfferDraft(
        chat_id=message.chat_id,
        message_id=message.message_id,
        grid_id=binding.grid_id,
        writer_id=message.reporter_id,
        writer_name=message.reporter_name,
        text=message.text,
        sent_at=message.sent_at,
        categories=reading.categories,
        created_at=now,
        thread_id=message.thread_id,
        media=message.media,
        media_group_id=message.media_group_id,
    )
    return await storage.offers.create(draft, interval=interval, lifetime=LIFETIME)


class Answer(StrEnum):
    OPENED = "opened"  # the ticket is open; its receipt is queued as a reply to the message
    ANSWERED = "answered"  # an earlier press (or an edit adding a tag) opened it already
    EXPIRED = "expired"
    UNBOUND = "unbound"  # the group is no longer a grid's
    UNKNOWN = "unknown"  # the category is no longer in the catalogue


@dataclass(frozen=True)
class Outcome:
    answer: Answer
    ticket: Ticket | None = None


async def accept(
    storage: Storage,
    catalog: CategoryCatalog,
    offer: Offer,
    choice: int,
    accepted_by: int | None,
    now: datetime,
    then: OnOpened | None = None,
) -> Outcome:
    """Open the ticket of ``offer``'s message in its ``choice``-th category, exactly as the
    same message with that category's tag would have opened it (category, labels, body,
    location, deadlines from now, likely duplicates on the receipt)."""
    if offer.status == OfferStatus.ACCEPTED:
        return Outcome(Answer.ANSWERED, await _ticket_of(storage, offer))
    if offer.status == OfferStatus.EXPIRED or now - offer.created_at >= LIFETIME:
        await storage.offers.expire(offer.id)
        return Outcome(Answer.EXPIRED)
    key = offer.categories[choice] if choice < len(offer.categories) else None
    category = catalog.get(key) if key is not None else None
    if category is None:
        return Outcome(Answer.UNKNOWN)
    binding = await storage.grids.active_binding(offer.chat_id)
    if binding is None or not binding.is_grid or binding.grid_id is None:
        return Outcome(Answer.UNBOUND)
    parsed = as_tagged(parse_report(offer.text, catalog), category.key, category.tag)
    message = IntakeMessage(
        chat_id=offer.chat_id,
        message_id=offer.message_id,
        text=offer.text,
        reporter_id=offer.writer_id,
        reporter_name=offer.writer_name,
        sent_at=offer.sent_at,
        thread_id=offer.thread_id,
        media_group_id=offer.media_group_id,
        media=offer.media,
    )
    draft = new_ticket(catalog, binding.grid_id, parsed, message, now)
    result: Acceptance = await storage.offers.accept(
        offer.id,
        draft,
        accepted_by=accepted_by,
        opened_after=now - LIFETIME,
        duplicates_since=now - DUPLICATE_WINDOW,
        then=then,
    )
    if result.status == OfferStatus.EXPIRED:
        return Outcome(Answer.EXPIRED)
    if result.created:
        logger.info(
            "offer %s opened ticket %s", offer.id, result.ticket.id if result.ticket else None
        )
        return Outcome(Answer.OPENED, result.ticket)
    return Outcome(Answer.ANSWERED, result.ticket)


def as_tagged(parsed: ParsedReport, key: str, tag: str) -> ParsedReport:
    """The message read as if it carried ``tag``: the category decided, everything else as
    parsed (an unknown tag such as ``#电梯坏了`` stays a label, as beside a known tag)."""
    return replace(parsed, category=key, tag=tag, needs_detail=False)


async def _ticket_of(storage: Storage, offer: Offer) -> Ticket | None:
    return None if offer.ticket_id is None else await storage.tickets.get(offer.ticket_id)
