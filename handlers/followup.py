"""回访: the reporter rates a resolved ticket; 不满意 reopens it and asks why. And /escalate."""

from __future__ import annotations

import logging
import re
from html import escape

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import schedule, tickets
from bot.context import LinliApp, LinliContext, Runtime
from bot.tickets import Actor, Ticket
from handlers.common import answer, officer_target, pop_up, refresh_receipt
from handlers.officer import refuse_status
from storage import OutboxDraft

logger = logging.getLogger(__name__)

GROUP = 0
REPLIES_GROUP = 2  # replies to the bot are read after "+1" (group 0) and intake (group 1)
_DATA = re.compile(r"^fb:(\d{1,12}):([sbu])$")


def register(app: LinliApp) -> None:
    app.add_handler(CallbackQueryHandler(on_rating, pattern=r"^fb:"), group=GROUP)
    app.add_handler(CommandHandler("escalate", on_escalate), group=GROUP)
    app.add_handler(
        MessageHandler(
            filters.REPLY & filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
            on_feedback_reply,
        ),
        group=REPLIES_GROUP,
    )


async def on_rating(update: Update, context: LinliContext) -> None:
    query = update.callback_query
    if query is None:
        return
    runtime = context.runtime
    match = _DATA.match(query.data or "")
    ticket = await runtime.storage.tickets.get(int(match.group(1))) if match else None
    if match is None or ticket is None:
        await pop_up(query, runtime.texts("popup.invalid"))
        return
    user = query.from_user
    if not await runtime.storage.tickets.is_reporter(ticket.id, user.id):
        await pop_up(query, runtime.texts("popup.not_reporter"))
        return
    rating = tickets.RATINGS[match.group(2)]
    actor = Actor(user.id, user.full_name)
    now = runtime.clock.now()
    messages = await _unsatisfied_messages(runtime, ticket) if rating == "unsatisfied" else []
    after = await tickets.rate(runtime.storage, ticket, actor, rating, now, messages)
    if after is None:
        await pop_up(query, runtime.texts("popup.already_rated"))
        return
    await pop_up(query, runtime.texts("popup.rated"))
    runtime.wake_sender()
    if isinstance(query.message, Message):
        thanks = runtime.texts(
            "followup.thanks",
            question=query.message.text_html or "",
            rating=runtime.texts(f"rating.{rating}"),
        )
        try:
            await query.message.edit_text(thanks, reply_markup=None)
        except TelegramError as exc:
            logger.info("could not update the follow-up of ticket %s: %s", ticket.id, exc)
    await refresh_receipt(context, after)


async def _unsatisfied_messages(runtime: Runtime, ticket: Ticket) -> list[OutboxDraft]:
    """Tell the officers, and invite the reporter to say why (her reply is recorded)."""
    now = runtime.clock.now()
    grid = await runtime.storage.grids.grid(ticket.grid_id)
    people = await runtime.roles.officers_of(grid) if grid else []
    if ticket.assignee_id is not None:
        people = [(ticket.assignee_id, ticket.assignee_name or ""), *people]
    mentions = "".join(schedule.mention(i, n) + " " for i, n in dict(people).items())
    count = ticket.reopen_count + 1
    reply = {"reply_to": ticket.message_id, "thread_id": ticket.thread_id}
    return [
        OutboxDraft(
            chat_id=ticket.chat_id,
            kind="notice",
            text=runtime.texts("followup.officers", id=ticket.id, count=count, mentions=mentions),
            payload=reply,
            ticket_id=ticket.id,
            dedupe_key=f"unsatisfied:{ticket.id}:{count}",
            not_before=now,
        ),
        OutboxDraft(
            chat_id=ticket.chat_id,
            kind=schedule.FEEDBACK_INVITE,
            text=runtime.texts("followup.invite", id=ticket.id),
            payload=reply,
            ticket_id=ticket.id,
            dedupe_key=f"feedback_invite:{ticket.id}:{count}",
            not_before=now,
        ),
    ]


async def on_feedback_reply(update: Update, context: LinliContext) -> None:
    """A reporter's reply to "tell us why" is recorded in the ticket's history."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or message.reply_to_message is None:
        return
    replied = message.reply_to_message
    if replied.from_user is None or replied.from_user.id != context.bot.id:
        return
    runtime = context.runtime
    invite = await runtime.storage.outbox.by_message(message.chat_id, replied.message_id)
    if invite is None or invite.kind != schedule.FEEDBACK_INVITE or invite.ticket_id is None:
        return
    if not await runtime.storage.tickets.is_reporter(invite.ticket_id, user.id):
        return
    ticket = await runtime.storage.tickets.get(invite.ticket_id)
    if ticket is None:
        return
    text = (message.text or "")[:1000]
    await tickets.comment(
        runtime.storage, ticket, Actor(user.id, user.full_name), text, runtime.clock.now()
    )
    await answer(message, runtime.texts("followup.recorded", id=ticket.id))


async def on_escalate(update: Update, context: LinliContext) -> None:
    """/escalate N [reason]: raise a ticket to the next level now (community, then street)."""
    target = await officer_target(update, context, "escalate")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    ticket = target.ticket
    if ticket.escalation_level >= 2:
        await answer(message, runtime.texts("escalation.top", id=ticket.id))
        return
    if ticket.status not in tickets.OPEN:
        await refuse_status(message, runtime, ticket, "escalate")
        return
    level = ticket.escalation_level + 1
    ticker = schedule.Ticker(runtime)
    reason = " ".join(target.rest)[:500]
    done = await schedule.escalate(
        ticker, ticket, level, reason=reason, by=(target.actor.user_id, target.actor.name)
    )
    if not done:  # someone escalated it a moment ago
        current = await runtime.storage.tickets.get(ticket.id) or ticket
        await refuse_status(message, runtime, current, "escalate")
        return
    runtime.wake_sender()
    where = runtime.texts(f"escalation.level.{level}")
    await answer(message, runtime.texts("escalation.done", id=ticket.id, level=escape(where)))
