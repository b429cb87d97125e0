"""Ticket lists and details as text (pure; no telegram import). Group views are masked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from bot.categories import CategoryCatalog
from bot.links import message_link
from bot.parsing import mask_sensitive
from bot.receipts import location_text
from bot.texts import Texts
from bot.tickets import is_overdue
from storage import GridInfo, Ticket, TicketEvent

PAGE_SIZE = 10
PREVIEW = 40


def _tag(catalog: CategoryCatalog, key: str) -> str:
    category = catalog.get(key)
    return category.tag if category else key


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def list_line(
    ticket: Ticket,
    *,
    catalog: CategoryCatalog,
    texts: Texts,
    tz: ZoneInfo,
    now: datetime,
    masked: bool,
) -> str:
    body = mask_sensitive(ticket.body) if masked else ticket.body
    parts = [
        f"<b>{ticket.id}</b> [{escape(_tag(catalog, ticket.category))}]",
        texts.status(ticket.status),
    ]
    where = location_text(ticket)
    if where:
        parts.append(escape(where))
    parts.append(escape(_cut(body, PREVIEW)))
    parts.append(texts.moment(ticket.created_at, tz))
    if is_overdue(ticket, now):
        parts.append(texts("list.overdue_mark"))
    line = " · ".join(parts)
    link = message_link(ticket.chat_id, ticket.message_id)
    if link:
        line += f' <a href="{link}">{texts("list.link")}</a>'
    return line


def list_text(
    tickets: Sequence[Ticket],
    *,
    total: int,
    page: int,
    scope_name: str,
    catalog: CategoryCatalog,
    texts: Texts,
    tz: ZoneInfo,
    now: datetime,
    masked: bool,
) -> str:
    if total == 0:
        return texts("list.empty", scope=scope_name)
    pages = pages_for(total)
    lines = [texts("list.header", scope=scope_name, total=total, page=page, pages=pages)]
    lines += [
        list_line(t, catalog=catalog, texts=texts, tz=tz, now=now, masked=masked) for t in tickets
    ]
    return "\n".join(lines)


def pages_for(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def detail_text(
    ticket: Ticket,
    events: Sequence[TicketEvent],
    *,
    grid: GridInfo | None,
    co_reporters: int,
    catalog: CategoryCatalog,
    texts: Texts,
    tz: ZoneInfo,
    now: datetime,
    masked: bool,
) -> str:
    """/show: everything about a ticket; ``masked`` for anything posted in a group."""

    def clean(text: str) -> str:
        return escape(mask_sensitive(text) if masked else text)

    lines = [texts("show.title", id=ticket.id, category=escape(_tag(catalog, ticket.category)))]
    status = texts.status(ticket.status)
    if is_overdue(ticket, now):
        status += " " + texts("list.overdue_mark")
    lines.append(texts("receipt.status", status=status))
    if ticket.duplicate_of is not None:
        lines.append(texts("show.duplicate_of", id=ticket.duplicate_of))
    if grid is not None:
        lines.append(
            texts("show.grid", grid=escape(grid.name), community=escape(grid.community_name))
        )
    where = location_text(ticket)
    lines.append(
        texts("receipt.location", location=escape(where)) if where else texts("receipt.no_location")
    )
    lines.append(texts("receipt.body", body=clean(ticket.body)))
    lines.append(
        texts(
            "show.reporter",
            name=escape(ticket.reporter_name),
            at=texts.moment(ticket.created_at, tz),
        )
    )
    if co_reporters:
        lines.append(texts("show.co_reporters", count=co_reporters))
    if ticket.assignee_name:
        lines.append(texts("show.assignee", name=escape(ticket.assignee_name)))
    lines.append(texts("receipt.response_due", due=texts.moment(ticket.response_due, tz)))
    lines.append(texts("receipt.resolution_due", due=texts.moment(ticket.resolution_due, tz)))
    if ticket.reopen_count:
        lines.append(texts("show.reopens", count=ticket.reopen_count))
    link = message_link(ticket.chat_id, ticket.message_id)
    if link:
        lines.append(f'<a href="{link}">{texts("list.link")}</a>')
    lines.append(texts("show.history"))
    for event in events:
        if masked and event.kind == "note":
            continue  # internal notes never reach a group
        lines.append(_event_line(event, texts, tz, clean))
    return "\n".join(lines)


def _event_line(event: TicketEvent, texts: Texts, tz: ZoneInfo, clean: Callable[[str], str]) -> str:
    kind = f"event.{event.kind}"
    name = texts(kind) if kind in _KNOWN_EVENTS else event.kind
    line = f"· {texts.moment(event.at, tz)} {name}"
    if event.actor_name:
        line += f"（{escape(event.actor_name)}）"
    if event.note and event.kind not in ("opened", "media_added"):
        line += f"：{clean(_cut(event.note, 200))}"
    return line


_KNOWN_EVENTS = frozenset(
    f"event.{k}"
    for k in (
        "opened",
        "edited",
        "media_added",
        "take",
        "assign",
        "progress",
        "note",
        "done",
        "reject",
        "duplicate",
        "merged",
        "reopen",
        "co_reporter",
    )
)
