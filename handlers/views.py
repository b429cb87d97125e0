"""/list and /show for officers and staff, with paging buttons."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Message, Update, User
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import callbacks
from bot.callbacks import PagePress
from bot.context import LinliApp, LinliContext, Runtime
from bot.keyboards import page_keyboard
from bot.privacy import Viewer
from bot.texts import Texts
from bot.tickets import OPEN_STATUSES
from bot.views import PAGE_SIZE, detail_text, list_text, pages_for
from handlers.common import (
    answer,
    is_private,
    officer_target,
    pop_up,
    pressed,
    role_for,
    texts_for,
    ticket_number,
)
from storage import TicketFilter

logger = logging.getLogger(__name__)

GROUP = 0
SCOPES = ("open", "overdue", "mine", "all")


def register(app: LinliApp) -> None:
    app.add_handler(CommandHandler("list", on_list), group=GROUP)
    app.add_handler(CommandHandler("show", on_show), group=GROUP)
    app.add_handler(
        CallbackQueryHandler(on_page, pattern=callbacks.is_press(PagePress)), group=GROUP
    )


def _scope(runtime: Runtime, words: list[str]) -> tuple[str, int] | None:
    """``[open|overdue|mine|all|TAG] [PAGE]`` -> (scope, page); a tag becomes ``c.<key>``."""
    scope, page = "open", 1
    for word in words[:2]:
        number = ticket_number(word)
        if number is not None:
            page = max(1, number)
        elif word.lower() in SCOPES:
            scope = word.lower()
        elif (category := runtime.catalog.by_word(word.lstrip("#＃"))) is not None:
            scope = f"c.{category.key}"
        else:
            return None
    return scope, page


async def _grid_ids(
    runtime: Runtime, message: Message, user: User | None
) -> list[int] | bool | None:
    """Grids the list covers: the group's grid, or in private every grid the user works.

    None = every grid (an admin); False = the user may not list here.
    """
    if not is_private(message):
        binding = await runtime.storage.grids.active_binding(message.chat_id)
        if binding is None or binding.grid_id is None:
            return False
        grid = await runtime.storage.grids.grid(binding.grid_id)
        if grid is None or not (await role_for(runtime, message, grid)).works_tickets:
            return False
        return [grid.id]
    if user is None:
        return False
    grids = await runtime.roles.workable_grids(user.id)
    return None if grids is None else [g.id for g in grids]


def _filter(
    runtime: Runtime, scope: str, grid_ids: list[int] | None, user: User | None
) -> TicketFilter:
    ids = None if grid_ids is None else tuple(grid_ids)
    now = runtime.clock.now()
    if scope == "overdue":
        return TicketFilter(grid_ids=ids, overdue_at=now)
    if scope == "mine":
        return TicketFilter(
            grid_ids=ids, statuses=OPEN_STATUSES, assignee_id=user.id if user else -1
        )
    if scope == "all":
        return TicketFilter(grid_ids=ids)
    category = scope[2:] if scope.startswith("c.") else None
    return TicketFilter(grid_ids=ids, statuses=OPEN_STATUSES, category=category)


def _scope_name(runtime: Runtime, texts: Texts, scope: str) -> str:
    if scope.startswith("c."):
        category = runtime.catalog.get(scope[2:])
        return texts("list.scope.category", tag=category.tag if category else scope[2:])
    return texts(f"list.scope.{scope}")


async def render_list(
    runtime: Runtime, message: Message, user: User | None, scope: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """/list: the page for the grids the sender of ``message`` may list; None if none."""
    grid_ids = await _grid_ids(runtime, message, user)
    if grid_ids is False:
        return None
    assert grid_ids is not True
    texts = texts_for(runtime, message, user)
    if grid_ids == []:
        return texts("list.no_grids"), None
    text, keyboard, _ = await _page(runtime, texts, message, user, grid_ids, scope, page)
    return text, keyboard


async def _page(
    runtime: Runtime,
    texts: Texts,
    message: Message,
    user: User | None,
    grid_ids: list[int] | None,
    scope: str,
    page: int,
) -> tuple[str, InlineKeyboardMarkup | None, int]:
    """One page of a list, its buttons, and how many pages the list has now."""
    where = _filter(runtime, scope, grid_ids, user)
    tickets, total = await runtime.storage.tickets.find(
        where, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = pages_for(total)
    text = list_text(
        tickets,
        total=total,
        page=page,
        scope_name=_scope_name(runtime, texts, scope),
        catalog=runtime.catalog,
        texts=texts,
        tz=runtime.settings.tz,
        now=runtime.clock.now(),
        viewer=_lister(message, user, grid_ids),
    )
    return text, page_keyboard(scope, page, pages, texts), pages


async def on_list(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message, update.effective_user)
    parsed = _scope(runtime, list(context.args or []))
    if parsed is None:
        await answer(message, texts("list.usage"))
        return
    rendered = await render_list(runtime, message, update.effective_user, *parsed)
    if rendered is None:
        await answer(message, texts("list.not_allowed"))
        return
    text, keyboard = rendered
    try:
        await message.reply_text(text, reply_markup=keyboard)
    except TelegramError as exc:
        logger.warning("list in chat %s failed: %s", message.chat_id, exc)


async def on_page(update: Update, context: LinliContext) -> None:
    """◀ / ▶ under a list, for whoever may list that chat (``authorize_press``); a page that
    no longer exists (tickets were closed meanwhile) is refused, the message left as it is."""
    got = await pressed(update, context, PagePress)
    if got is None:
        return
    query, press, decision, popups = got.query, got.press, got.decision, got.popups
    runtime = context.runtime
    message = query.message
    if not isinstance(message, Message):
        await pop_up(query, popups("popup.invalid"))
        return
    grid_ids = None if decision.grid_ids is None else list(decision.grid_ids)
    user = query.from_user
    texts = texts_for(runtime, message, user)  # the list: the presser's language in private
    page = await _page(runtime, texts, message, user, grid_ids, press.scope, press.page)
    text, keyboard, pages = page
    if press.page > pages:
        await pop_up(query, popups("popup.page_gone", page=press.page, pages=pages))
        return
    await pop_up(query)
    try:
        await message.edit_text(text, reply_markup=keyboard)
    except TelegramError as exc:
        logger.info("page edit failed: %s", exc)


async def on_show(update: Update, context: LinliContext) -> None:
    target = await officer_target(update, context, "show")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    ticket = target.ticket
    text = detail_text(
        ticket,
        await runtime.storage.tickets.events(ticket.id),
        grid=target.grid,
        co_reporters=len(await runtime.storage.tickets.co_reporters(ticket.id)),
        catalog=runtime.catalog,
        texts=texts_for(runtime, message),
        tz=runtime.settings.tz,
        now=runtime.clock.now(),
        viewer=Viewer(  # /show is for staff of the ticket's grid (officer_target checked)
            target.actor.user_id,
            private=is_private(message),
            staff_grids=frozenset({ticket.grid_id}),
        ),
    )
    await answer(message, text)


def _lister(message: Message, user: User | None, grid_ids: list[int] | None) -> Viewer:
    """Who reads a /list page: staff of the listed grids (None: every grid, an admin)."""
    grids = None if grid_ids is None else frozenset(grid_ids)
    return Viewer(user.id if user else None, private=is_private(message), staff_grids=grids)
