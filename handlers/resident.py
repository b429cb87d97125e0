"""What residents can do: /start, /help, /my, /status, "+1" and photos for their tickets."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler, MessageHandler, filters

from bot import followup
from bot.context import LinliApp, LinliContext, Runtime
from bot.links import start_link
from bot.privacy import Viewer
from bot.tickets import OPEN_STATUSES, Actor, MediaItem, Ticket
from bot.views import PAGE_SIZE, list_line
from handlers.common import (
    actor_of,
    answer,
    is_private,
    reply,
    tag_list,
    texts_for,
    ticket_number,
)
from storage import GridInfo, TicketFilter

GROUP = 0
MY_PAYLOAD = "my"


def register(app: LinliApp) -> None:
    app.add_handler(CommandHandler("start", on_start), group=GROUP)
    app.add_handler(CommandHandler("help", on_help), group=GROUP)
    app.add_handler(CommandHandler("my", on_my), group=GROUP)
    app.add_handler(CommandHandler("status", on_status), group=GROUP)
    app.add_handler(CommandHandler("metoo", on_metoo), group=GROUP)
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS
            & filters.REPLY
            & filters.UpdateType.MESSAGE
            & filters.Regex(followup.ME_TOO),
            on_metoo,
        ),
        group=GROUP,
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & filters.REPLY & filters.PHOTO & filters.UpdateType.MESSAGE,
            on_photo_reply,
        ),
        group=GROUP,
    )


async def on_start(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.chat.type != ChatType.PRIVATE:
        await on_help(update, context)
    elif context.args and context.args[0] == MY_PAYLOAD:
        await on_my(update, context)
    else:
        texts = texts_for(context.runtime, message)
        await message.reply_text(texts("start.private", tags=tag_list(context.runtime)))


async def on_help(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    key = "start.private" if is_private(message) else "help.group"
    await reply(message, context.runtime, key, tags=tag_list(context.runtime))


async def on_my(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    mine = TicketFilter(reporter_id=user.id)
    tickets, total = await runtime.storage.tickets.find(mine, limit=PAGE_SIZE)
    if total == 0:
        await answer(message, texts("my.none"))
        return
    if not is_private(message):
        _, open_count = await runtime.storage.tickets.find(
            TicketFilter(reporter_id=user.id, statuses=OPEN_STATUSES), limit=0
        )
        link = start_link(context.bot.username, MY_PAYLOAD)
        await answer(message, texts("my.group", total=total, open=open_count, link=link))
        return
    lines = [texts("my.header", total=total)]
    now = runtime.clock.now()
    viewer = await _viewer(runtime, message, user.id, tickets)
    lines += [
        list_line(
            t,
            catalog=runtime.catalog,
            texts=texts,
            tz=runtime.settings.tz,
            now=now,
            viewer=viewer,
        )
        for t in tickets
    ]
    await answer(message, "\n".join(lines))


async def _viewer(
    runtime: Runtime, message: Message, user_id: int, tickets: list[Ticket]
) -> Viewer:
    """The resident reading her tickets. Only what she wrote herself is hers to read unmasked:
    on a ticket she joined with "+1", or that /dup merged hers into, she is a reporter but not
    the writer, unless she works its grid (asked of the roles only then)."""
    private = is_private(message)
    if not private or all(t.reporter_id == user_id for t in tickets):
        return Viewer(user_id, private=private)
    grids = await runtime.roles.workable_grids(user_id)
    return Viewer(user_id, private=True, staff_grids=_ids(grids))


def _ids(grids: list[GridInfo] | None) -> frozenset[int] | None:
    return None if grids is None else frozenset(g.id for g in grids)


async def on_status(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    args = list(context.args or [])
    number = ticket_number(args[0]) if args else None
    if number is None:
        await answer(message, texts("status.usage"))
        return
    ticket = await runtime.storage.tickets.get(number)
    if ticket is None:
        await answer(message, texts("officer.not_found", id=number))
        return
    own = user is not None and await runtime.storage.tickets.is_reporter(ticket.id, user.id)
    if own and user is not None:  # her ticket's details; numbers only as she may read them
        line = list_line(
            ticket,
            catalog=runtime.catalog,
            texts=texts,
            tz=runtime.settings.tz,
            now=runtime.clock.now(),
            viewer=await _viewer(runtime, message, user.id, [ticket]),
        )
        await answer(message, line)
        return
    status = texts.status(ticket.status)
    await answer(message, texts("status.short", id=ticket.id, status=status))


async def on_metoo(update: Update, context: LinliContext) -> None:
    """A co-reporter: "+1" / 同样 / 我也是 replying to a report or its receipt, or /metoo."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or user.is_bot:
        return
    runtime = context.runtime
    replied = message.reply_to_message
    joined = await followup.join(
        runtime.storage,
        message.chat_id,
        replied.message_id if replied is not None else None,
        Actor(user.id, user.full_name),
        runtime.clock.now(),
    )
    if joined.ticket is not None:
        key = "metoo.added" if joined.added else "metoo.already"
        await reply(message, runtime, key, id=joined.ticket.id)
    elif message.text and message.text.startswith("/"):
        await reply(message, runtime, "metoo.not_a_ticket")


async def on_photo_reply(update: Update, context: LinliContext) -> None:
    """A photo replying to one's own ticket (report or receipt) is attached to it."""
    message = update.effective_message
    if message is None or not message.photo or message.reply_to_message is None:
        return
    runtime = context.runtime
    photo = message.photo[-1]
    ticket = await followup.attach_photo(
        runtime.storage,
        runtime.catalog,
        message.chat_id,
        message.reply_to_message.message_id,
        message.caption or "",
        actor_of(message, runtime.texts),
        MediaItem(message.message_id, "photo", photo.file_id, photo.file_unique_id),
        runtime.clock.now(),
    )
    if ticket is not None:
        await reply(message, runtime, "photo.attached", id=ticket.id)
