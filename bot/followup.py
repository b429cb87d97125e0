"""What residents add to a ticket after reporting it (no telegram import).

The 回访 rating (不满意 reopens the ticket, tells its officers and invites the reporter to say
why), her "why", a neighbour's "+1", and a photo replying to her own ticket. Each is one call
taking storage and plain values; the handlers only translate updates and answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot import tickets
from bot.categories import CategoryCatalog
from bot.links import mention
from bot.parsing import parse_report
from bot.texts import Texts
from bot.tickets import Actor, Satisfaction, Ticket
from storage import GridInfo, MediaItem, OutboxDraft, Storage

logger = logging.getLogger(__name__)

FEEDBACK_INVITE = "feedback_invite"  # outbox kind of "tell us why"; replies to it are recorded
FEEDBACK_LIMIT = 1000  # characters of the reporter's "why" kept in the history
# a reply that says "me too" (besides /metoo): +1, 同样, 我也是 …, alone on the line
ME_TOO = re.compile(
    r"^\s*(?:\+1|＋1|\+１|同样|同上|我也是|我也一样|我家也是|一样|俺也一样)\s*[!！。.~～]*\s*$"
)


class OfficerBook(Protocol):
    """Who to tell about a grid's tickets (``bot.roles.RoleBook`` in the running bot)."""

    async def officers_of(self, grid: GridInfo) -> list[tuple[int, str]]: ...


def unsatisfied_messages(
    ticket: Ticket, officers: Sequence[tuple[int, str]], texts: Texts, now: datetime
) -> list[OutboxDraft]:
    """After 不满意: tell the officers (the holder first) and invite the reporter to say why.

    ``ticket`` is the ticket before it is reopened. The dedupe keys carry the reopen count the
    rating leads to, so a redelivered press queues nothing twice and a later 不满意 queues anew.
    """
    people = list(officers)
    if ticket.assignee_id is not None:
        people = [(ticket.assignee_id, ticket.assignee_name or ""), *people]
    mentions = "".join(mention(i, n) + " " for i, n in dict(people).items())
    count = ticket.reopen_count + 1
    reply = {"reply_to": ticket.message_id, "thread_id": ticket.thread_id}
    return [
        OutboxDraft(
            chat_id=ticket.chat_id,
            kind="notice",
            text=texts("followup.officers", id=ticket.id, count=count, mentions=mentions),
            payload=reply,
            ticket_id=ticket.id,
            dedupe_key=f"unsatisfied:{ticket.id}:{count}",
            not_before=now,
        ),
        OutboxDraft(
            chat_id=ticket.chat_id,
            kind=FEEDBACK_INVITE,
            text=texts("followup.invite", id=ticket.id),
            payload=reply,
            ticket_id=ticket.id,
            dedupe_key=f"feedback_invite:{ticket.id}:{count}",
            not_before=now,
        ),
    ]


async def rate(
    storage: Storage,
    ticket: Ticket,
    actor: Actor,
    rating: Satisfaction,
    now: datetime,
    *,
    texts: Texts,
    officers: OfficerBook,
) -> Ticket | None:
    """The reporter's 回访 answer; None if the ticket was rated (or moved) already.

    满意 and 基本满意 close the ticket. 不满意 reopens it (重办) and, in the same transaction,
    queues the officers' notice and the invitation to say why.
    """
    messages: list[OutboxDraft] = []
    if rating == Satisfaction.UNSATISFIED:
        grid = await storage.grids.grid(ticket.grid_id)
        people = await officers.officers_of(grid) if grid is not None else []
        messages = unsatisfied_messages(ticket, people, texts, now)
    return await tickets.rate(storage, ticket, actor, rating, now, messages)


async def record_feedback(
    storage: Storage, chat_id: int, invite_message_id: int, actor: Actor, text: str, now: datetime
) -> Ticket | None:
    """A reply to "tell us why": kept in the ticket's history if it is the invitation of a
    ticket the replier reported; None (nothing recorded) otherwise."""
    invite = await storage.outbox.by_message(chat_id, invite_message_id)
    if invite is None or invite.kind != FEEDBACK_INVITE or invite.ticket_id is None:
        return None
    if actor.user_id is None or not await storage.tickets.is_reporter(
        invite.ticket_id, actor.user_id
    ):
        return None
    ticket = await storage.tickets.get(invite.ticket_id)
    if ticket is None:
        return None
    await tickets.comment(storage, ticket, actor, text[:FEEDBACK_LIMIT], now)
    return ticket


@dataclass(frozen=True)
class MeToo:
    """A "+1": the ticket replied to (None: the message was no ticket's) and whether it is new."""

    ticket: Ticket | None
    added: bool = False


async def join(
    storage: Storage, chat_id: int, replied_message_id: int | None, actor: Actor, now: datetime
) -> MeToo:
    """A "+1" (同样, 我也是, /metoo) replying to a report or its receipt: the resident becomes a
    co-reporter, asked in the 回访 and free to rate. Not twice, and not the reporter herself."""
    if replied_message_id is None:
        return MeToo(None)
    ticket = await tickets.replied_ticket(storage, chat_id, replied_message_id)
    if ticket is None:
        return MeToo(None)
    if actor.user_id is None:
        return MeToo(ticket)
    added = await storage.tickets.add_co_reporter(ticket.id, actor.user_id, actor.name, now)
    return MeToo(ticket, added)


async def attach_photo(
    storage: Storage,
    catalog: CategoryCatalog,
    chat_id: int,
    replied_message_id: int,
    caption: str,
    actor: Actor,
    photo: MediaItem,
    now: datetime,
) -> Ticket | None:
    """A photo replying to one's own ticket (report or receipt) is attached to it; the ticket,
    or None when nothing was attached. A tagged photo is a new report (intake opens it), and
    only the ticket's reporters add to it."""
    if parse_report(caption, catalog).is_report:
        return None
    ticket = await tickets.replied_ticket(storage, chat_id, replied_message_id)
    if ticket is None or actor.user_id is None:
        return None
    if not await storage.tickets.is_reporter(ticket.id, actor.user_id):
        return None
    added = await storage.tickets.add_media(
        ticket.id, chat_id, (photo,), actor_id=actor.user_id, actor_name=actor.name, now=now
    )
    return ticket if added else None
