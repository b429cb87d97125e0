"""回访: the reporter rates a resolved ticket; 不满意 reopens it and asks why. And /escalate.

The rules are ``bot.followup`` (rating, the why) and ``bot.schedule.escalate_by_hand``; this
module turns presses, replies and the command into those calls and their answers into words.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks, followup, schedule, tickets
from bot.callbacks import RatingPress
from bot.context import LinliApp, LinliContext
from bot.schedule import ByHand
from bot.texts import Texts
from bot.tickets import Action, Actor
from handlers.common import (
    answer,
    command_words,
    officer_target,
    pop_up,
    pressed,
    refresh_receipt,
    refuse_status,
    reply,
    texts_for,
)
from storage import GridInfo

logger = logging.getLogger(__name__)

GROUP = 0
REPLIES_GROUP = 2  # replies to the bot are read after "+1" (group 0) and intake (group 1)
REASON_LIMIT = 500  # an /escalate reason is cut here


def register(app: LinliApp) -> None:
    app.add_handler(
        CallbackQueryHandler(on_rating, pattern=callbacks.is_press(RatingPress)), group=GROUP
    )
    app.add_handler(CommandHandler("escalate", on_escalate), group=GROUP)
    app.add_handler(
        MessageHandler(
            filters.REPLY & filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
            on_feedback_reply,
        ),
        group=REPLIES_GROUP,
    )


async def on_rating(update: Update, context: LinliContext) -> None:
    got = await pressed(update, context, RatingPress)  # only the ticket's reporters
    if got is None:
        return
    query, press, ticket, texts = got.query, got.press, got.decision.ticket, got.popups
    runtime = context.runtime
    if ticket is None:
        await pop_up(query, texts("popup.invalid"))
        return
    rating = tickets.RATINGS[press.rating]
    actor = Actor(query.from_user.id, query.from_user.full_name)
    after = await followup.rate(
        runtime.storage,
        ticket,
        actor,
        rating,
        runtime.clock.now(),
        texts=runtime.texts,
        officers=runtime.roles,
    )
    if after is None:
        await pop_up(query, texts("popup.already_rated"))
        return
    await pop_up(query, texts("popup.rated"))
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
    ticket = await followup.record_feedback(
        runtime.storage,
        message.chat_id,
        replied.message_id,
        Actor(user.id, user.full_name),
        message.text or "",
        runtime.clock.now(),
    )
    if ticket is not None:
        await reply(message, runtime, "followup.recorded", id=ticket.id)


async def on_escalate(update: Update, context: LinliContext) -> None:
    """/escalate N [reason]: raise a ticket to the next level now (community, then street)."""
    target = await officer_target(update, context, "escalate")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    reason = command_words(target.rest, REASON_LIMIT)
    result = await schedule.escalate_by_hand(runtime, target.ticket, target.actor, reason)
    ticket, texts = result.ticket, texts_for(runtime, message)
    match result.outcome:
        case ByHand.TOP:
            await answer(message, texts("escalation.top", id=ticket.id))
        case ByHand.REFUSED:
            await refuse_status(message, runtime, ticket, Action.ESCALATE)
        case ByHand.NO_OFFICE:
            await answer(message, _no_office_text(texts, target.grid, ticket.id))
        case ByHand.UP:
            key = "escalation.done" if result.office == result.level else "escalation.done_street"
            where = texts(f"escalation.level.{result.office}")
            await answer(message, texts(key, id=ticket.id, level=escape(where)))


def _no_office_text(texts: Texts, grid: GridInfo, ticket_id: int) -> str:
    """Nobody above the grid has an office chat: say so, and how an admin fixes it."""
    return texts(
        "escalation.no_office",
        id=ticket_id,
        community=escape(grid.community_name),
        street=escape(grid.street_name or texts("escalation.no_street")),
    )
