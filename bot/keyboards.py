"""Inline keyboards; their callback data comes from bot.callbacks (typed, versioned, ≤ 64 bytes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import PagePress, TicketPress, encode
from bot.texts import Texts
from bot.tickets import Status
from storage import Ticket

logger = logging.getLogger(__name__)


def receipt_keyboard(
    ticket: Ticket, texts: Texts, duplicates: Sequence[int] = ()
) -> InlineKeyboardMarkup | None:
    """接单 / 办结 while the ticket is open, and 合并 for a likely duplicate."""
    row: list[InlineKeyboardButton] = []
    if ticket.status == Status.NEW:
        row.append(_button(texts("button.take"), TicketPress("take", ticket.id)))
    if ticket.is_open:
        row.append(_button(texts("button.done"), TicketPress("done", ticket.id)))
    rows = [row] if row else []
    if ticket.is_open:
        rows += [
            [_button(texts("button.merge", id=original), TicketPress("merge", ticket.id, original))]
            for original in duplicates[:2]
            if original != ticket.id
        ]
    return InlineKeyboardMarkup(rows) if rows else None


def page_keyboard(scope: str, page: int, pages: int, texts: Texts) -> InlineKeyboardMarkup | None:
    """◀ / ▶ under a /list message; none for a scope no button can carry (a very long key)."""
    row: list[InlineKeyboardButton] = []
    try:
        if page > 1:
            row.append(_button(texts("button.prev_page"), PagePress(scope, page - 1)))
        if page < pages:
            row.append(_button(texts("button.next_page"), PagePress(scope, page + 1)))
    except ValueError as exc:
        logger.warning("no paging buttons for list %r page %s: %s", scope, page, exc)
        return None
    return InlineKeyboardMarkup([row]) if row else None


def _button(text: str, press: TicketPress | PagePress) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(press))
