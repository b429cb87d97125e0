"""/web: a personal login link to the staff web page, always delivered in private.

The decision and the link are bot.web.links'; this module carries them to Telegram. In a
private chat the link is the answer. In a group the link goes to the sender's private chat and
the group reads only that it was sent (or how to let the bot write to her first: the deep link
``/start web`` opens the private chat and gives the link at once). Permissions are the
sender's own, never those of a message replied to. Edited messages are not commands here: an
edit must not hand out a second link (a replayed update is skipped by bot.app.handle_update,
the link's row having recorded it).
"""

from __future__ import annotations

import logging
import re
from html import escape

from telegram import LinkPreviewOptions, Message, Update, User
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CommandHandler, filters

from bot.context import LinliApp, LinliContext, Runtime
from bot.links import start_link
from bot.web.links import (
    LINKS_PER_WINDOW,
    Issue,
    Issued,
    NotStaff,
    TooMany,
    issue_link,
    link_message,
)
from handlers.common import answer, is_anonymous_admin, is_private, texts_for
from storage import GridInfo

logger = logging.getLogger(__name__)

GROUP = 0
START_PAYLOAD = "web"  # t.me/<bot>?start=web: the private chat opens and the link follows
_START_WEB = re.compile(rf"^/start(?:@\w+)?\s+{START_PAYLOAD}\s*$")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def register(app: LinliApp) -> None:
    """Before handlers.resident: its /start must not take ``/start web`` first."""
    app.add_handler(CommandHandler("web", on_web, filters=filters.UpdateType.MESSAGE), group=GROUP)
    app.add_handler(
        CommandHandler(
            "start",
            on_web,
            filters=filters.ChatType.PRIVATE
            & filters.UpdateType.MESSAGE
            & filters.Regex(_START_WEB),
        ),
        group=GROUP,
    )


async def on_web(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if is_private(message):
        await _in_private(message, context)
    else:
        await _in_group(message, context)


async def _issue(runtime: Runtime, user: User, grid: GridInfo | None = None) -> Issue:
    settings = runtime.settings
    return await issue_link(
        runtime.storage,
        runtime.roles,
        base_url=settings.web_url,
        key=settings.web_key(),
        user_id=user.id,
        user_name=user.full_name,
        now=runtime.clock.now(),
        grid=grid,
    )


async def _in_private(message: Message, context: LinliContext) -> None:
    user = message.from_user
    if user is None:
        return
    runtime = context.runtime
    issue = await _issue(runtime, user)
    if isinstance(issue, Issued):
        try:
            await _send_link(context, runtime, user, issue)
        except TelegramError as exc:
            logger.warning("login link to %s not delivered: %s", user.id, exc)
        return
    await _refuse(message, runtime, issue)


async def _in_group(message: Message, context: LinliContext) -> None:
    runtime = context.runtime
    texts = texts_for(runtime, message)
    if is_anonymous_admin(message):  # Telegram hides who it is: nobody to send a link to
        await answer(message, texts("web_link.anonymous"))
        return
    user = message.from_user
    if user is None or user.is_bot or message.sender_chat is not None:
        await answer(message, texts("web_link.not_staff"))
        return
    issue = await _issue(runtime, user, await _grid_of(runtime, message.chat_id))
    if not isinstance(issue, Issued):
        await _refuse(message, runtime, issue)
        return
    try:
        await _send_link(context, runtime, user, issue)
    except (Forbidden, BadRequest) as exc:  # she never opened a chat with the bot, or blocked it
        logger.info("login link to %s not delivered: %s", user.id, exc)
        link = start_link(context.bot.username, START_PAYLOAD)
        await answer(message, texts("web_link.cannot_dm", link=escape(link)))
        return
    except TelegramError as exc:
        logger.warning("login link to %s not delivered: %s", user.id, exc)
        return
    await answer(message, texts("web_link.sent_private"))


async def _grid_of(runtime: Runtime, chat_id: int) -> GridInfo | None:
    """The grid a group is bound to (its administrators are asked for directly)."""
    binding = await runtime.storage.grids.active_binding(chat_id)
    if binding is None or not binding.is_grid or binding.grid_id is None:
        return None
    return await runtime.storage.grids.grid(binding.grid_id)


async def _send_link(context: LinliContext, runtime: Runtime, user: User, issued: Issued) -> None:
    """The link in the person's private chat, in her language, without a preview."""
    texts = runtime.texts_for(user.language_code, private=True)
    await context.bot.send_message(
        user.id,
        link_message(issued, texts, runtime.settings.tz),
        link_preview_options=_NO_PREVIEW,
    )


async def _refuse(message: Message, runtime: Runtime, issue: NotStaff | TooMany) -> None:
    texts = texts_for(runtime, message)
    if isinstance(issue, TooMany):
        text = texts("web_link.too_many", limit=LINKS_PER_WINDOW, minutes=issue.minutes)
    else:
        text = texts("web_link.not_staff")
    await answer(message, text)
