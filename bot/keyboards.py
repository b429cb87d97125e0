"""Inline keyboards and their callback data (``tk:<action>:<ticket>[:<other>]``, < 64 bytes)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.texts import Texts
from storage import Ticket

_DATA = re.compile(r"^tk:(take|done|merge):(\d{1,12})(?::(\d{1,12}))?$")
_PAGE = re.compile(r"^ls:(open|overdue|mine|all|c\.[a-z0-9_]{1,30}):(\d{1,6})$")


@dataclass(frozen=True)
class TicketPress:
    action: str
    ticket_id: int
    other_id: int | None = None


def parse_ticket_data(data: str | None) -> TicketPress | None:
    """The button a callback came from; None for anything we never sent (forged or stale)."""
    match = _DATA.match(data or "")
    if match is None:
        return None
    other = int(match.group(3)) if match.group(3) else None
    if (match.group(1) == "merge") != (other is not None):
        return None
    return TicketPress(match.group(1), int(match.group(2)), other)


def parse_page_data(data: str | None) -> tuple[str, int] | None:
    match = _PAGE.match(data or "")
    return None if match is None else (match.group(1), int(match.group(2)))


def receipt_keyboard(
    ticket: Ticket, texts: Texts, duplicates: Sequence[int] = ()
) -> InlineKeyboardMarkup | None:
    """接单 / 办结 while the ticket is open, and 合并 for a likely duplicate."""
    row: list[InlineKeyboardButton] = []
    if ticket.status == "new":
        row.append(InlineKeyboardButton(texts("button.take"), callback_data=f"tk:take:{ticket.id}"))
    if ticket.status in ("new", "accepted"):
        row.append(InlineKeyboardButton(texts("button.done"), callback_data=f"tk:done:{ticket.id}"))
    rows = [row] if row else []
    if ticket.status in ("new", "accepted"):
        rows += [
            [
                InlineKeyboardButton(
                    texts("button.merge", id=original),
                    callback_data=f"tk:merge:{ticket.id}:{original}",
                )
            ]
            for original in duplicates[:2]
        ]
    return InlineKeyboardMarkup(rows) if rows else None


def page_keyboard(scope: str, page: int, pages: int, texts: Texts) -> InlineKeyboardMarkup | None:
    row = []
    if page > 1:
        row.append(
            InlineKeyboardButton(texts("button.prev_page"), callback_data=f"ls:{scope}:{page - 1}")
        )
    if page < pages:
        row.append(
            InlineKeyboardButton(texts("button.next_page"), callback_data=f"ls:{scope}:{page + 1}")
        )
    return InlineKeyboardMarkup([row]) if row else None
