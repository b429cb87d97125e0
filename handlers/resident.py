"""What residents can do: /start, /help, /my, /status, "+1" and photos for their tickets."""

from __future__ import annotations

import re

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.context import LinliApp, LinliContext, Runtime
from bot.links import start_link
from bot.parsing import parse_report
from bot.tickets import MediaItem, Ticket
from bot.views import PAGE_SIZE, list_line
from handlers.common import actor_of, answer, is_private, ticket_number
from storage import TicketFilter

GROUP = 0
ME_TOO = re.compile(
    r"^\s*(?:\+1|＋1|\+１|同样|同上|我也是|我也一样|我家也是|一样|俺也一样)\s*[!！。.~～]*\s*$"
)
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
            & filters.Regex(ME_TOO),
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


def _tags(context: LinliContext) -> str:
    return " ".join(f"#{c.tag}" for c in context.runtime.catalog)


async def on_start(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.chat.type != ChatType.PRIVATE:
        await on_help(update, context)
    elif context.args and context.args[0] == MY_PAYLOAD:
        await on_my(update, context)
    else:
        await message.reply_text(context.runtime.texts("start.private", tags=_tags(context)))


async def on_help(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    key = "start.private" if is_private(message) else "help.group"
    await answer(message, context.runtime.texts(key, tags=_tags(context)))


async def on_my(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    runtime = context.runtime
    mine = TicketFilter(reporter_id=user.id)
    tickets, total = await runtime.storage.tickets.find(mine, limit=PAGE_SIZE)
    if total == 0:
        await answer(message, runtime.texts("my.none"))
        return
    if not is_private(message):
        _, open_count = await runtime.storage.tickets.find(
            TicketFilter(reporter_id=user.id, statuses=("new", "accepted")), limit=0
        )
        link = start_link(context.bot.username, MY_PAYLOAD)
        await answer(message, runtime.texts("my.group", total=total, open=open_count, link=link))
        return
    lines = [runtime.texts("my.header", total=total)]
    now = runtime.clock.now()
    lines += [
        list_line(
            t,
            catalog=runtime.catalog,
            texts=runtime.texts,
            tz=runtime.settings.tz,
            now=now,
            masked=False,
        )
        for t in tickets
    ]
    await answer(message, "\n".join(lines))


async def on_status(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None:
        return
    runtime = context.runtime
    args = list(context.args or [])
    number = ticket_number(args[0]) if args else None
    if number is None:
        await answer(message, runtime.texts("status.usage"))
        return
    ticket = await runtime.storage.tickets.get(number)
    if ticket is None:
        await answer(message, runtime.texts("officer.not_found", id=number))
        return
    own = user is not None and await runtime.storage.tickets.is_reporter(ticket.id, user.id)
    if own:  # full details; masked unless in her private chat
        line = list_line(
            ticket,
            catalog=runtime.catalog,
            texts=runtime.texts,
            tz=runtime.settings.tz,
            now=runtime.clock.now(),
            masked=not is_private(message),
        )
        await answer(message, line)
        return
    status = runtime.texts.status(ticket.status)
    await answer(message, runtime.texts("status.short", id=ticket.id, status=status))


async def _replied_ticket(runtime: Runtime, message: Message) -> Ticket | None:
    replied = message.reply_to_message
    if replied is None:
        return None
    tickets = runtime.storage.tickets
    return await tickets.by_message(
        message.chat_id, replied.message_id
    ) or await tickets.by_receipt(message.chat_id, replied.message_id)


async def on_metoo(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or user.is_bot:
        return
    runtime = context.runtime
    ticket = await _replied_ticket(runtime, message)
    if ticket is None:
        if message.text and message.text.startswith("/"):
            await answer(message, runtime.texts("metoo.not_a_ticket"))
        return
    added = await runtime.storage.tickets.add_co_reporter(
        ticket.id, user.id, user.full_name, runtime.clock.now()
    )
    await answer(message, runtime.texts("metoo.added" if added else "metoo.already", id=ticket.id))


async def on_photo_reply(update: Update, context: LinliContext) -> None:
    """A photo replying to one's own ticket (report or receipt) is attached to it."""
    message = update.effective_message
    if message is None or not message.photo:
        return
    runtime = context.runtime
    if parse_report(message.caption or "", runtime.catalog).is_report:
        return  # a tagged photo is a new report: intake takes it
    ticket = await _replied_ticket(runtime, message)
    actor = actor_of(message)
    if ticket is None or actor.user_id is None:
        return
    if not await runtime.storage.tickets.is_reporter(ticket.id, actor.user_id):
        return
    photo = message.photo[-1]
    added = await runtime.storage.tickets.add_media(
        ticket.id,
        message.chat_id,
        (MediaItem(message.message_id, "photo", photo.file_id, photo.file_unique_id),),
        actor_id=actor.user_id,
        actor_name=actor.name,
        now=runtime.clock.now(),
    )
    if added:
        await answer(message, runtime.texts("photo.attached", id=ticket.id))
