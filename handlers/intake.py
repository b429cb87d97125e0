"""Tagged messages in a grid chat become tickets, each answered by a receipt."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import MessageHandler, filters

from bot import answers
from bot.context import LinliApp, LinliContext, Runtime
from bot.parsing import ParsedReport, parse_report
from bot.tickets import IntakeMessage, MediaItem, Ticket, apply_edit, open_ticket
from handlers.common import answer, refresh_receipt, texts_for
from storage import ChatBinding

logger = logging.getLogger(__name__)

GROUP = 1  # after commands (0) and membership (-1)
NOTICE_UNBOUND = "unbound_hint"

# What can carry a report: text, or a caption on a photo, video or document (albums included).
REPORT_CONTENT = (
    filters.TEXT | filters.CAPTION | filters.PHOTO | filters.VIDEO | filters.Document.ALL
)


def register(app: LinliApp) -> None:
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS
            & REPORT_CONTENT
            & ~filters.COMMAND
            & filters.UpdateType.MESSAGE,
            on_group_message,
        ),
        group=GROUP,
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS
            & REPORT_CONTENT
            & ~filters.COMMAND
            & filters.UpdateType.EDITED_MESSAGE,
            on_group_edit,
        ),
        group=GROUP,
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & filters.Regex("[#＃]"),
            on_private_tag,
        ),
        group=GROUP,
    )


def is_resident_post(message: Message) -> bool:
    """A person's own message: not another bot, not a channel's automatic forward."""
    if message.is_automatic_forward:
        return False
    if message.sender_chat is not None:
        # an anonymous group admin posts as the group itself; a channel speaking here is no report
        return message.sender_chat.id == message.chat_id
    return message.from_user is not None and not message.from_user.is_bot


def reporter(message: Message) -> tuple[int | None, str]:
    if message.sender_chat is not None:
        return None, message.sender_chat.title or message.sender_chat.effective_name or ""
    user = message.from_user
    return (user.id, user.full_name) if user else (None, "")


def media_of(message: Message) -> tuple[MediaItem, ...]:
    if message.photo:
        largest = message.photo[-1]
        return (MediaItem(message.message_id, "photo", largest.file_id, largest.file_unique_id),)
    for kind in ("video", "document", "animation", "audio", "voice"):
        item = getattr(message, kind)
        if item is not None:
            return (MediaItem(message.message_id, kind, item.file_id, item.file_unique_id),)
    return ()


def intake_message(message: Message, text: str) -> IntakeMessage:
    reporter_id, reporter_name = reporter(message)
    return IntakeMessage(
        chat_id=message.chat_id,
        message_id=message.message_id,
        text=text,
        reporter_id=reporter_id,
        reporter_name=reporter_name,
        sent_at=message.date,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        media_group_id=message.media_group_id,
        media=media_of(message),
    )


async def on_group_message(update: Update, context: LinliContext) -> None:
    message = update.message
    if message is None or not is_resident_post(message):
        return
    await take_report(message, context)


async def take_report(message: Message, context: LinliContext) -> None:
    """The whole intake of one message; also used for an edit that adds a tag."""
    runtime = context.runtime
    text = message.text or message.caption or ""
    parsed = parse_report(text, runtime.catalog)
    intake = intake_message(message, text)
    album = bool(intake.media_group_id and intake.media)
    if not parsed.is_report:
        if album:
            await _album_part(runtime, intake)
        return
    if album:
        # a tagged album item is kept with the album only in a grid's chat (binding read first)
        binding = await runtime.storage.grids.active_binding(message.chat_id)
        if binding is None or not binding.is_grid:
            await _not_opened(message, runtime, binding, parsed)
            return
        existing = await _album_part(runtime, intake)
        if existing is not None:
            return  # a second captioned item of an album that already has its ticket
    now = runtime.clock.now()
    # 咨询 and the like: an automatic answer when a template's keywords match (from memory),
    # queued in the ticket's own transaction
    then = await answers.on_opening(
        runtime.storage, runtime.catalog, runtime.settings.tz, runtime.texts, now
    )
    # the chat's binding is read in the opening's own hand-over (the hot path: one trip)
    result = await open_ticket(
        runtime.storage, runtime.catalog, parsed, intake, now, then, stashed=album
    )
    if result.ticket is None:
        await _not_opened(message, runtime, result.binding, parsed)
    elif result.created:
        # the receipt (and an automatic answer) was queued with the ticket, and handed to the
        # running sender there (storage.outbox.Adopter): nothing to wake
        logger.info("ticket %s opened in chat %s", result.ticket.id, result.ticket.chat_id)


async def _not_opened(
    message: Message, runtime: Runtime, binding: ChatBinding | None, parsed: ParsedReport
) -> None:
    """Why a report opened no ticket, said when it helps: an unbound group is hinted (not
    often), a grid's chat asks for words after a bare tag; a supervisors' chat stays quiet."""
    if binding is None:
        await _hint_unbound(message, runtime)
    elif binding.is_grid:
        await answer(message, runtime.texts("intake.need_detail", tag=parsed.tag))


async def _album_part(runtime: Runtime, intake: IntakeMessage) -> Ticket | None:
    assert intake.media_group_id is not None
    return await runtime.storage.tickets.add_album_item(
        intake.chat_id,
        intake.media_group_id,
        intake.media[0],
        actor_id=intake.reporter_id,
        actor_name=intake.reporter_name,
        now=runtime.clock.now(),
    )


async def on_group_edit(update: Update, context: LinliContext) -> None:
    message = update.edited_message
    if message is None or not is_resident_post(message):
        return
    runtime = context.runtime
    ticket = await runtime.storage.tickets.by_message(message.chat_id, message.message_id)
    if ticket is None:
        # an edit that adds a tag to an ordinary message is a report like any other
        await take_report(message, context)
        return
    text = message.text or message.caption or ""
    parsed: ParsedReport = parse_report(text, runtime.catalog)
    intake = intake_message(message, text)
    updated = await apply_edit(
        runtime.storage, runtime.catalog, ticket, parsed, intake, runtime.clock.now()
    )
    if updated is not None:  # None: no longer new, or nothing changed — the edit is ignored
        await refresh_receipt(context, updated, updated=True)


async def on_private_tag(update: Update, context: LinliContext) -> None:
    if update.message is not None and update.message.chat.type == ChatType.PRIVATE:
        texts = texts_for(context.runtime, update.message)
        await answer(update.message, texts("intake.private"))


async def _hint_unbound(message: Message, runtime: Runtime) -> None:
    claimed = await runtime.storage.notices.claim(
        message.chat_id,
        NOTICE_UNBOUND,
        runtime.clock.now(),
        runtime.settings.unbound_hint_interval,
    )
    if claimed:
        await answer(message, runtime.texts("intake.unbound"))
