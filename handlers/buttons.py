"""One-tap buttons on receipts: 接单, 办结, 合并 — each checked against the presser's role."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot import tickets
from bot.context import LinliApp, LinliContext, Runtime
from bot.keyboards import TicketPress, parse_ticket_data
from bot.tickets import Actor, Ticket
from handlers.common import pop_up, post_to_reporter, refresh_receipt
from handlers.officer import announce_done

logger = logging.getLogger(__name__)

GROUP = 0


def register(app: LinliApp) -> None:
    app.add_handler(CallbackQueryHandler(on_ticket_button, pattern=r"^tk:"), group=GROUP)


async def _may_work(runtime: Runtime, ticket: Ticket, user_id: int) -> bool:
    grid = await runtime.storage.grids.grid(ticket.grid_id)
    return grid is not None and (await runtime.roles.role(user_id, grid)).works_tickets


async def on_ticket_button(update: Update, context: LinliContext) -> None:
    query = update.callback_query
    if query is None:
        return
    runtime = context.runtime
    press = parse_ticket_data(query.data)
    ticket = await runtime.storage.tickets.get(press.ticket_id) if press else None
    if press is None or ticket is None:
        await pop_up(query, runtime.texts("popup.invalid"))
        return
    if not await _may_work(runtime, ticket, query.from_user.id):
        await pop_up(query, runtime.texts("popup.not_allowed"))
        return
    actor = Actor(query.from_user.id, query.from_user.full_name)
    after = await _apply(context, press, ticket, actor)
    if after is None:
        current = await runtime.storage.tickets.get(ticket.id) or ticket
        status = runtime.texts.status(current.status)
        await pop_up(query, runtime.texts("popup.wrong_status", id=ticket.id, status=status))
        return
    await pop_up(
        query, runtime.texts("popup.done", id=after.id, status=runtime.texts.status(after.status))
    )
    await refresh_receipt(context, after)


async def _apply(
    context: LinliContext, press: TicketPress, ticket: Ticket, actor: Actor
) -> Ticket | None:
    runtime = context.runtime
    now = runtime.clock.now()
    if press.action == "take":
        return await tickets.take(runtime.storage, ticket, actor, now)
    if press.action == "done":
        after = await tickets.done(
            runtime.storage, ticket, actor, "", now, runtime.settings.followup_delay
        )
        if after is not None:
            await announce_done(context, after, "")
        return after
    assert press.other_id is not None
    original = await runtime.storage.tickets.get(press.other_id)
    if original is None or not await _may_work(runtime, original, actor.user_id or 0):
        return None
    merged = await tickets.mark_duplicate(runtime.storage, ticket, original, actor, now)
    if merged is not None:
        text = runtime.texts("officer.dup_public", id=merged.id, original=original.id)
        await post_to_reporter(context, merged, text)
    return merged
