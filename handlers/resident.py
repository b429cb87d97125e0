"""What anyone can ask the bot: /start and /help."""

from __future__ import annotations

from telegram import ReplyParameters, Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler

from bot.context import LinliApp, LinliContext

GROUP = 0


def register(app: LinliApp) -> None:
    app.add_handler(CommandHandler("start", on_start), group=GROUP)
    app.add_handler(CommandHandler("help", on_help), group=GROUP)


def _tags(context: LinliContext) -> str:
    return " ".join(f"#{c.tag}" for c in context.runtime.catalog)


async def on_start(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.chat.type == ChatType.PRIVATE:
        await message.reply_text(context.runtime.texts("start.private", tags=_tags(context)))
    else:
        await on_help(update, context)


async def on_help(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    key = "start.private" if message.chat.type == ChatType.PRIVATE else "help.group"
    await message.reply_text(
        context.runtime.texts(key, tags=_tags(context)),
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
    )
