"""Inline keyboards; their callback data comes from bot.callbacks (typed, versioned, ≤ 64 bytes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import AnswerAction, AnswerPress, PagePress, TicketPress, encode
from bot.texts import Texts
from bot.tickets import Status
from storage import Ticket

logger = logging.getLogger(__name__)


def receipt_keyboard(
    ticket: Ticket, texts: Texts, duplicates: Sequence[int] = ()
) -> InlineKeyboardMarkup | None:
    """接单 / 办结 / 💬 (ready answers) while the ticket is open, and 合并 for a likely
    duplicate."""
    row: list[InlineKeyboardButton] = []
    if ticket.status == Status.NEW:
        row.append(_button(texts("button.take"), TicketPress("take", ticket.id)))
    if ticket.is_open:
        row.append(_button(texts("button.done"), TicketPress("done", ticket.id)))
        row.append(_button(texts("abtn.button"), AnswerPress("ask", ticket.id)))
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


@dataclass(frozen=True)
class AnswerChoice:
    """One action of the 💬 choice: its label, its templates (id, label) used most first."""

    action: AnswerAction
    label: str
    templates: Sequence[tuple[int, str]]


def answer_choice_keyboard(
    ticket_id: int, choices: Sequence[AnswerChoice], texts: Texts
) -> InlineKeyboardMarkup:
    """The 💬 choice in private: a button per template (``【办结】您好，…``), or, for an action
    with none, one to write the words."""
    rows: list[list[InlineKeyboardButton]] = []
    for choice in choices:
        if not choice.templates:
            press = AnswerPress("write", ticket_id, action=choice.action)
            rows.append([_button(texts("abtn.write_button", action=choice.label), press)])
        for template_id, label in choice.templates:
            text = texts("abtn.template_button", action=choice.label, words=label)
            rows.append([_button(text, AnswerPress("pick", ticket_id, template_id))])
    return InlineKeyboardMarkup(rows)


def answer_preview_keyboard(ticket_id: int, template_id: int, texts: Texts) -> InlineKeyboardMarkup:
    """[发送] [改一改] [返回] under a preview (``template_id`` 0: words of one's own)."""
    return InlineKeyboardMarkup(
        [
            [
                _button(texts("abtn.send"), AnswerPress("send", ticket_id, template_id)),
                _button(texts("abtn.edit"), AnswerPress("edit", ticket_id, template_id)),
                _button(texts("abtn.back"), AnswerPress("back", ticket_id)),
            ]
        ]
    )


def answer_back_keyboard(ticket_id: int, texts: Texts) -> InlineKeyboardMarkup:
    """Only [返回] (to the choice): under a refusal of a preview's action."""
    return InlineKeyboardMarkup([[_button(texts("abtn.back"), AnswerPress("back", ticket_id))]])


def _button(text: str, press: TicketPress | PagePress | AnswerPress) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(press))
