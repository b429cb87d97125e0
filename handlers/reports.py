"""/digest, /stats, /chart and /export: reports for officers and community or street staff."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from io import BytesIO

from telegram import InputFile, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CommandHandler

from bot import digest
from bot.charts import CHART_WEEKS, build_weekly_chart
from bot.context import LinliApp, LinliContext, Runtime
from bot.export import export_ledger, ledger_filename
from bot.texts import Texts
from handlers.common import (
    answer,
    is_anonymous_admin,
    is_private,
    role_for,
    texts_for,
    ticket_number,
)
from storage import ChatBinding, GridInfo

logger = logging.getLogger(__name__)

GROUP = 0
MAX_DAYS = 365


def register(app: LinliApp) -> None:
    app.add_handler(CommandHandler("digest", on_digest), group=GROUP)
    app.add_handler(CommandHandler("stats", on_stats), group=GROUP)
    app.add_handler(CommandHandler("chart", on_chart), group=GROUP)
    app.add_handler(CommandHandler("export", on_export), group=GROUP)


@dataclass(frozen=True)
class Scope:
    """What a report covers: some grids (None = all), named for the reader."""

    grids: list[GridInfo] | None
    name: str
    binding: ChatBinding | None  # the chat's own binding, if the command came from a bound chat


async def scope_of(runtime: Runtime, message: Message, texts: Texts) -> Scope | None:
    """The grids the sender may report on from this chat, named in ``texts``; None if they
    may not."""
    user = message.from_user
    if is_private(message):
        if user is None:
            return None
        grids = await runtime.roles.workable_grids(user.id)
        if grids == []:
            return None
        if grids is None:
            return Scope(None, texts("reports.all_grids"), None)
        return Scope(grids, texts("text.list_separator").join(g.name for g in grids), None)
    binding = await runtime.storage.grids.active_binding(message.chat_id)
    if binding is None:
        return None
    every = await runtime.storage.grids.grids()
    if binding.is_grid:
        grid = next((g for g in every if g.id == binding.grid_id), None)
        if grid is None or not (await role_for(runtime, message, grid)).works_tickets:
            return None
        return Scope([grid], grid.name, binding)
    allowed = runtime.roles.is_admin(user.id if user else None) or (
        user is not None and await runtime.roles.is_member(message.chat_id, user.id)
    )
    if not allowed:
        return None
    if binding.community_id is not None:
        grids = [g for g in every if g.community_id == binding.community_id]
        return Scope(grids, binding.community_name or "", binding)
    grids = [g for g in every if g.street_id == binding.street_id]
    return Scope(grids, binding.street_name or "", binding)


@dataclass(frozen=True)
class Asked:
    """A reports command from someone allowed to see reports here, and what she may see."""

    message: Message
    runtime: Runtime
    texts: Texts
    scope: Scope


async def _asked(update: Update, context: LinliContext) -> Asked | None:
    """The command's message and scope; refuses politely (and returns None) when not allowed."""
    message = update.effective_message
    if message is None:
        return None
    runtime = context.runtime
    texts = texts_for(runtime, message)
    scope = await scope_of(runtime, message, texts)
    if scope is None:
        await answer(message, texts("export.not_allowed"))
        return None
    return Asked(message, runtime, texts, scope)


async def on_digest(update: Update, context: LinliContext) -> None:
    """Today's digest of this chat, now (grid or supervisor chat)."""
    asked = await _asked(update, context)
    if asked is None:
        return
    message, runtime, texts, scope = asked.message, asked.runtime, asked.texts, asked.scope
    if scope.binding is None:
        await answer(message, texts("officer.grid_only"))
        return
    messages = await digest.build_daily_digests(
        runtime.storage,
        catalog=runtime.catalog,
        texts=texts,
        tz=runtime.settings.tz,
        now=runtime.clock.now(),
        chat_ids=[message.chat_id],
    )
    mine = next((m for m in messages if m.chat_id == message.chat_id), None)
    if mine is not None:
        await answer(message, mine.text)


async def on_stats(update: Update, context: LinliContext) -> None:
    """/stats [days]: the three rates with numerators and denominators, and median times."""
    asked = await _asked(update, context)
    if asked is None:
        return
    message, runtime, texts, scope = asked.message, asked.runtime, asked.texts, asked.scope
    args = list(context.args or [])
    days = ticket_number(args[0]) if args else 7
    if days is None or not 1 <= days <= MAX_DAYS:
        await answer(message, texts("stats.usage"))
        return
    grids = scope.grids if scope.grids is not None else await runtime.storage.grids.grids()
    text = await digest.build_stats_text(
        runtime.storage,
        grids,
        scope=scope.name,
        days=days,
        texts=texts,
        now=runtime.clock.now(),
        catalog=runtime.catalog,
    )
    await answer(message, text)


async def on_chart(update: Update, context: LinliContext) -> None:
    asked = await _asked(update, context)
    if asked is None:
        return
    message, runtime, texts, scope = asked.message, asked.runtime, asked.texts, asked.scope
    png = await build_weekly_chart(
        runtime.storage,
        None if scope.grids is None else [g.id for g in scope.grids],
        name=scope.name,
        texts=texts,
        tz=runtime.settings.tz,
        now=runtime.clock.now(),
        weeks=CHART_WEEKS,
    )
    caption = texts("chart.caption", name=scope.name, weeks=CHART_WEEKS)
    try:
        await message.reply_photo(png, caption=caption)
    except TelegramError as exc:
        logger.warning("chart to chat %s failed: %s", message.chat_id, exc)


async def on_export(update: Update, context: LinliContext) -> None:
    """The ledger as xlsx: in private or in a supervisor chat, never in a resident group.
    Whoever may export may see the roster of the grids (officers, staff, admins): where the
    grids keep one, the workbook's second sheet is 关爱走访."""
    user = update.effective_user
    asked = await _asked(update, context) if user is not None else None
    if asked is None or user is None:
        return
    message, runtime, texts, scope = asked.message, asked.runtime, asked.texts, asked.scope
    in_group = message.chat.type != ChatType.PRIVATE
    to_private = in_group and (scope.binding is None or scope.binding.is_grid)
    if to_private and is_anonymous_admin(message):
        # Telegram hides who the anonymous admin is: there is nobody to send it to privately
        await answer(message, texts("export.anonymous"))
        return
    buffer = BytesIO()
    now = runtime.clock.now()
    written = await export_ledger(
        runtime.storage,
        "xlsx",
        buffer,
        catalog=runtime.catalog,
        tz=runtime.settings.tz,
        now=now,
        what="all",
        empty_care=False,
        grid_ids=None if scope.grids is None else [g.id for g in scope.grids],
    )
    count = written.tickets
    if count == 0 and not written.people:
        await answer(message, texts("export.none"))
        return
    document = InputFile(
        buffer.getvalue(), filename=ledger_filename("xlsx", now, runtime.settings.tz)
    )
    # the ledger goes to her private chat: its caption in her language (LANGUAGE=auto)
    reader = runtime.texts_for(user.language_code, private=True) if to_private else texts
    caption = (
        reader(
            "care_fig.caption",
            count=count,
            people=written.people,
            visits=written.visits,
            scope=scope.name,
        )
        if written.care
        else reader("export.caption", count=count, scope=scope.name)
    )
    try:
        await context.bot.send_document(
            user.id if to_private else message.chat_id, document, caption=caption
        )
    except (Forbidden, BadRequest) as exc:  # never started a chat with us, or blocked us
        logger.info("ledger not delivered to %s: %s", user.id, exc)
        await answer(message, texts("export.cannot_dm"))
        return
    if to_private:
        await answer(message, texts("export.private_only"))
