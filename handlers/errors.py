"""The one error handler: log first, then a short apology where a person is waiting."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.context import LinliApp, LinliContext

logger = logging.getLogger(__name__)


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
    if not isinstance(update, Update) or not _waiting(update):
        return
    message = update.effective_message
    assert message is not None
    try:
        await message.reply_text(context.runtime.texts("error.generic"))
    except TelegramError as exc:
        logger.warning("could not apologise in chat %s: %s", message.chat_id, exc)


def _describe(update: object) -> str:
    if isinstance(update, Update):
        chat = update.effective_chat
        return f"update {update.update_id} in chat {chat.id if chat else '-'}"
    return type(update).__name__
