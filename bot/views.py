"""Ticket lists and details as text (pure; no telegram import).

What residents wrote is shown as the :class:`bot.privacy.Viewer` may read it: numbers unmasked
only for the ticket's writer and staff, in a private chat; masked for everyone else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from bot.categories import CategoryCatalog
from bot.links import message_link
from bot.privacy import Viewer
from bot.receipts import location_text
from bot.texts import SYSTEM_ACTOR, Texts
from bot.tickets import EventKind, Satisfaction, is_overdue
from storage import GridInfo, Ticket, TicketEvent

# /show quotes this much of a report; the rest stays one tap away, in the original message.
SHOW_BODY = 2000
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
    viewer: Viewer,
) -> str:
    body = viewer.shows(ticket, ticket.body)
    parts = [
        f"<b>{ticket.id}</b> [{escape(_tag(catalog, ticket.category))}]",
        texts.status(ticket.status),
    ]
    where = location_text(ticket, texts)
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
    viewer: Viewer,
) -> str:
    """A page of tickets; each line masked or not for ``viewer`` by its own ticket."""
    if total == 0:
        return texts("list.empty", scope=scope_name)
    pages = pages_for(total)
    lines = [texts("list.header", scope=scope_name, total=total, page=page, pages=pages)]
    lines += [
        list_line(t, catalog=catalog, texts=texts, tz=tz, now=now, viewer=viewer) for t in tickets
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
    viewer: Viewer,
) -> str:
    """/show: everything about a ticket, its report and notes as ``viewer`` may read them;
    internal notes only in a private chat."""

    def clean(text: str) -> str:
        return escape(viewer.shows(ticket, text))

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
    where = location_text(ticket, texts)
    lines.append(
        texts("receipt.location", location=escape(where)) if where else texts("receipt.no_location")
    )
    readable = viewer.shows(ticket, ticket.body)  # masked whole, then cut: no half a number
    body = escape(readable[:SHOW_BODY])
    if len(readable) > SHOW_BODY:
        body += texts("show.body_cut", shown=SHOW_BODY, total=len(readable))
    lines.append(texts("receipt.body", body=body))
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
        if not viewer.private and event.kind == EventKind.NOTE:
            continue  # internal notes never reach a group
        lines.append(_event_line(event, texts, tz, clean))
    return "\n".join(lines)


def _event_line(event: TicketEvent, texts: Texts, tz: ZoneInfo, clean: Callable[[str], str]) -> str:
    name = texts(f"event.{event.kind}") if event.kind in EVENT_KINDS else event.kind
    line = f"· {texts.moment(event.at, tz)} {name}"
    if event.actor_id is None and event.actor_name == SYSTEM_ACTOR:
        line += texts("show.event_actor", name=escape(texts("actor.system")))
    elif event.actor_name:
        line += texts("show.event_actor", name=escape(event.actor_name))
    note = event_note(event, texts, lambda text: clean(_cut(text, 200)))
    if note:
        line += texts("show.event_note", note=note)
    return line


def event_note(event: TicketEvent, texts: Texts, clean: Callable[[str], str]) -> str:
    """What a history row says beyond its kind, in the reader's words: people's notes as they
    wrote them (``clean`` cuts and masks them for the reader); the codes the bot stores (a
    rating, an escalation level) translated; bookkeeping (a file count, which reminder) left
    out. /show and the web page's ticket history both tell it so."""
    if event.kind in _BOOKKEEPING or not event.note:
        return ""
    if event.kind in (EventKind.RATED, EventKind.CLOSED) and event.note in RATING_NAMES:
        return texts(f"rating.{event.note}")
    if event.kind == EventKind.ESCALATED:
        level, _, reason = event.note.partition(" ")
        if level in ESCALATION_LEVELS:
            word = texts(f"escalation.level.{level}")
            return f"{word} {clean(reason)}".strip()
    return clean(event.note)


# Every kind of history row, each named by ``event.<kind>`` in the catalogue.
EVENT_KINDS = frozenset(EventKind)
_BOOKKEEPING = (EventKind.OPENED, EventKind.MEDIA_ADDED, EventKind.REMINDED)  # notes not shown
RATING_NAMES = frozenset(Satisfaction)  # rating.<name>
ESCALATION_LEVELS = frozenset({"1", "2"})  # escalation.level.<n>: community, street
