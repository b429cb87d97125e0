"""One-tap buttons on receipts: 接单, 办结, 合并 — and the polite answer to any button we no
longer (or never) made. Who may press is decided by ``handlers.common.authorize_press``."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot import callbacks, tickets
from bot.callbacks import TicketPress
from bot.context import LinliApp, LinliContext
from bot.tickets import Actor, Ticket
from handlers.common import (
    Decision,
    announce_done,
    answer_not_a_press,
    pop_up,
    post_to_reporter,
    pressed,
    refresh_receipt,
)

logger = logging.getLogger(__name__)

GROUP = 0


def register(app: LinliApp) -> None:
    app.add_handler(
        CallbackQueryHandler(on_ticket_button, pattern=callbacks.is_press(TicketPress)),
        group=GROUP,
    )
    # every other button kind has its own handler (views: pages, followup: ratings); whatever
    # parses to no press at all (an older release's button, forged or garbled data) ends here
    app.add_handler(
        CallbackQueryHandler(on_not_a_press, pattern=callbacks.is_not_a_press), group=GROUP
    )


async def on_not_a_press(update: Update, context: LinliContext) -> None:
    query = update.callback_query
    if query is not None:
        await answer_not_a_press(query, context.runtime, callbacks.parse(query.data))


async def on_ticket_button(update: Update, context: LinliContext) -> None:
    got = await pressed(update, context, TicketPress)
    if got is None:
        return
    query, press, decision, popups = got.query, got.press, got.decision, got.popups
    runtime = context.runtime
    if decision.ticket is None:
        await pop_up(query, popups("popup.invalid"))
        return
    ticket = decision.ticket
    actor = Actor(query.from_user.id, query.from_user.full_name)
    after = await _apply(context, press, decision, actor)
    if after is None:
        current = await runtime.storage.tickets.get(ticket.id) or ticket
        status = popups.status(current.status)
        await pop_up(query, popups("popup.wrong_status", id=ticket.id, status=status))
        return
    await pop_up(query, popups("popup.done", id=after.id, status=popups.status(after.status)))
    await refresh_receipt(context, after)


async def _apply(
    context: LinliContext, press: TicketPress, decision: Decision, actor: Actor
) -> Ticket | None:
    runtime = context.runtime
    now = runtime.clock.now()
    ticket = decision.ticket
    assert ticket is not None
    if press.action == "take":
        return await tickets.take(runtime.storage, ticket, actor, now)
    if press.action == "done":
        after = await tickets.done(
            runtime.storage, ticket, actor, "", now, runtime.settings.followup_delay
        )
        if after is not None:
            await announce_done(context, after, "")
        return after
    original = decision.other
    assert original is not None
    merged = await tickets.mark_duplicate(runtime.storage, ticket, original, actor, now)
    if merged is not None:
        text = runtime.texts("officer.dup_public", id=merged.id, original=original.id)
        await post_to_reporter(context, merged, text)
    return merged
