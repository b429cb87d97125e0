"""Deployment admins bind group chats to grids and supervisor chats to communities or streets."""

from __future__ import annotations

import logging
from html import escape

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler

from bot import grids
from bot.context import LinliApp, LinliContext, Runtime
from handlers.common import answer, texts_for

logger = logging.getLogger(__name__)

GROUP = 0


def register(app: LinliApp) -> None:
    app.add_handler(CommandHandler("bind", on_bind), group=GROUP)
    app.add_handler(CommandHandler("supervise", on_supervise), group=GROUP)
    app.add_handler(CommandHandler("unbind", on_unbind), group=GROUP)


def is_admin(runtime: Runtime, user_id: int | None) -> bool:
    return user_id is not None and user_id in runtime.settings.admin_ids


async def _admin_in_group(update: Update, context: LinliContext) -> Message | None:
    """The command message if an admin sent it in a group; otherwise reply why not and None."""
    message = update.effective_message
    if message is None:
        return None
    runtime = context.runtime
    user = update.effective_user
    texts = texts_for(runtime, message)  # refusals may be private: the sender's language
    if not is_admin(runtime, user.id if user else None):
        await answer(message, texts("admin.only_admins"))
        return None
    if message.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        await answer(message, texts("admin.group_only"))
        return None
    return message


async def on_bind(update: Update, context: LinliContext) -> None:
    message = await _admin_in_group(update, context)
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    args = grids.split_names(context.args)
    if len(args) not in (2, 3):
        await answer(message, texts("admin.bind_usage"))
        return
    if too_long := grids.first_too_long(args):
        await answer(message, texts("admin.name_too_long", limit=grids.NAME_LIMIT))
        logger.info("bind refused, name too long: %r", too_long[:40])
        return
    outcome = await grids.bind_grid(
        runtime.storage,
        chat_id=message.chat_id,
        title=message.chat.title or "",
        names=args,
        by=update.effective_user.id if update.effective_user else None,
        now=runtime.clock.now(),
    )
    if outcome.taken_by is not None:
        await answer(
            message,
            texts("admin.grid_taken", grid=escape(args[0]), title=escape(outcome.taken_by.title)),
        )
        return
    binding = outcome.binding
    assert binding is not None
    street = (
        texts("admin.street_suffix", street=escape(binding.street_name))
        if binding.street_name
        else ""
    )
    await answer(
        message,
        texts(
            "admin.bound_grid",
            grid=escape(binding.grid_name or ""),
            community=escape(binding.community_name or ""),
            street=street,
        ),
    )


async def on_supervise(update: Update, context: LinliContext) -> None:
    message = await _admin_in_group(update, context)
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    names = grids.split_names(context.args)
    if len(names) != 1:
        await answer(message, texts("admin.supervise_usage"))
        return
    name = names[0]
    if grids.first_too_long(names):
        await answer(message, texts("admin.name_too_long", limit=grids.NAME_LIMIT))
        return
    binding = await grids.bind_supervisor(
        runtime.storage,
        chat_id=message.chat_id,
        title=message.chat.title or "",
        name=name,
        by=update.effective_user.id if update.effective_user else None,
        now=runtime.clock.now(),
    )
    if binding is None:
        await answer(message, texts("admin.supervise_unknown", name=escape(name)))
        return
    await answer(message, texts("admin.bound_supervisor", name=escape(name)))


async def on_unbind(update: Update, context: LinliContext) -> None:
    message = await _admin_in_group(update, context)
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    undone = await runtime.storage.grids.unbind(message.chat_id, runtime.clock.now())
    await answer(message, texts("admin.unbound" if undone else "admin.not_bound"))
