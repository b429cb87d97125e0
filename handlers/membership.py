"""The bot joining groups, groups becoming supergroups, and titles changing."""

from __future__ import annotations

import logging

from telegram import ChatMember, ChatMemberUpdated, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ChatMemberHandler, MessageHandler, filters

from bot.context import LinliApp, LinliContext

logger = logging.getLogger(__name__)

GROUP = -1  # before commands and intake: a migration must be seen before anything else

PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}


def register(app: LinliApp) -> None:
    app.add_handler(
        ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER), group=GROUP
    )
    app.add_handler(ChatMemberHandler(on_chat_member, ChatMemberHandler.CHAT_MEMBER), group=GROUP)
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, on_migrate), group=GROUP)
    app.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_TITLE, on_new_title), group=GROUP)


def _joined(change: ChatMemberUpdated) -> bool:
    return change.old_chat_member.status not in PRESENT and change.new_chat_member.status in PRESENT


def _demoted(change: ChatMemberUpdated) -> bool:
    return (
        change.old_chat_member.status == ChatMember.ADMINISTRATOR
        and change.new_chat_member.status in PRESENT - {ChatMember.ADMINISTRATOR}
    )


async def on_my_chat_member(update: Update, context: LinliContext) -> None:
    change = update.my_chat_member
    if change is None or change.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return
    texts = context.runtime.texts
    status = change.new_chat_member.status
    logger.info("bot is now %s in chat %s", status, change.chat.id)
    can_read = context.bot.can_read_all_group_messages or status == ChatMember.ADMINISTRATOR
    messages = []
    if _joined(change):
        messages.append(texts("member.welcome"))
    if (_joined(change) or _demoted(change)) and not can_read:
        messages.append(texts("member.privacy"))
    for text in messages:
        try:
            await context.bot.send_message(change.chat.id, text)
        except TelegramError as exc:
            logger.warning("could not greet chat %s: %s", change.chat.id, exc)


async def on_chat_member(update: Update, context: LinliContext) -> None:
    """Someone joined, left, was promoted or demoted: roles are looked up anew next time."""
    change = update.chat_member
    if change is not None:
        context.runtime.roles.forget(change.chat.id, change.new_chat_member.user.id)


async def on_migrate(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return
    runtime = context.runtime
    if await runtime.storage.grids.migrate_chat(old, new, runtime.clock.now()):
        logger.info("chat %s became supergroup %s; binding and tickets moved", old, new)


async def on_new_title(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None or not message.new_chat_title:
        return
    runtime = context.runtime
    await runtime.storage.grids.rename_chat(
        message.chat_id, message.new_chat_title, runtime.clock.now()
    )
