"""The one error handler: log first, apologise where a person is waiting, tell the admins."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from html import escape

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.context import LinliApp, LinliContext, Runtime
from bot.parsing.contacts import mask_sensitive
from handlers.common import texts_for
from storage import OutboxDraft

logger = logging.getLogger(__name__)

# The admins hear of each kind of error at most once in this window (the outbox's dedupe key
# carries the window's number, so a restart or a storm of the same error sends no more).
NOTICE_WINDOW = timedelta(minutes=10)
DETAIL_LIMIT = 200


def register(app: LinliApp) -> None:
    app.add_error_handler(on_error)


def _waiting(update: Update) -> bool:
    """A person asked something directly: a private message, a command or a tagged report."""
    message = update.effective_message
    if message is None or update.edited_message is not None:
        return False
    text = message.text or message.caption or ""
    return (
        message.chat.type == ChatType.PRIVATE or text.startswith("/") or "#" in text or "＃" in text
    )


async def on_error(update: object, context: LinliContext) -> None:
    summary = _describe(update)
    logger.error("handler failed on %s", summary, exc_info=context.error)
    runtime = context.runtime
    await _tell_admins(runtime, summary, context.error)
    if not isinstance(update, Update) or not _waiting(update):
        return
    message = update.effective_message
    assert message is not None
    texts = texts_for(runtime, message, update.effective_user)
    try:
        await message.reply_text(texts("error.generic"))
    except TelegramError as exc:
        logger.warning("could not apologise in chat %s: %s", message.chat_id, exc)


async def _tell_admins(runtime: Runtime, summary: str, error: BaseException | None) -> None:
    """A short, masked notice to each deployment admin in private, once per kind and window."""
    admins = runtime.settings.admin_ids
    if not admins or error is None:
        return
    now = runtime.clock.now()
    kind = type(error).__name__
    detail = mask_sensitive(str(error).replace(runtime.settings.token(), "***"))[:DETAIL_LIMIT]
    text = runtime.texts(
        "error.admin_notice",
        kind=escape(kind),
        detail=escape(detail),
        where=escape(summary),
        at=runtime.texts.moment(now, runtime.settings.tz),
    )
    window = _window(now)
    drafts = [
        OutboxDraft(
            chat_id=admin,
            kind="error_notice",
            text=text,
            dedupe_key=f"error:{admin}:{kind}:{window}",
            not_before=now,
        )
        for admin in admins
    ]
    try:
        if await runtime.storage.outbox.add_many(drafts, now):
            runtime.wake_sender()
    except Exception:  # the database may be what failed; the log has the error already
        logger.warning("could not queue the error notice for the admins", exc_info=True)


def _window(now: datetime) -> int:
    return int(now.timestamp() // NOTICE_WINDOW.total_seconds())


def _describe(update: object) -> str:
    if isinstance(update, Update):
        chat = update.effective_chat
        return f"update {update.update_id} in chat {chat.id if chat else '-'}"
    return type(update).__name__
