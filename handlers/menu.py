"""Registers the command menu per scope and language (called from post_init)."""

from __future__ import annotations

import logging

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from telegram.error import TelegramError

from bot.commands import LANGUAGES, MENUS
from bot.context import LinliApp, runtime_of
from bot.texts import Language

logger = logging.getLogger(__name__)

SCOPES: dict[str, BotCommandScope] = {
    "private": BotCommandScopeAllPrivateChats(),
    "groups": BotCommandScopeAllGroupChats(),
    "group_admins": BotCommandScopeAllChatAdministrators(),
}


async def publish_menu(app: LinliApp) -> bool:
    """setMyCommands for every audience: default language, then zh and en. False if any failed.

    Telegram shows each person the list of her own language (zh or en), and the default
    language's list to the rest; under LANGUAGE=auto the default is zh."""
    default: Language = runtime_of(app).settings.default_language
    ok = True
    for audience, commands in MENUS.items():
        for language in (None, *LANGUAGES):
            shown = [BotCommand(c.name, c.description(language or default)) for c in commands]
            try:
                await app.bot.set_my_commands(shown, scope=SCOPES[audience], language_code=language)
            except TelegramError as exc:
                ok = False
                logger.warning("setMyCommands(%s, %s) failed: %s", audience, language, exc)
    return ok
