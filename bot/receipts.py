"""The receipt a resident sees under her report (pure text; no telegram import).

A receipt is posted in the group, so it shows the report as :data:`bot.privacy.PUBLIC` may read
it: every phone and ID number masked."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from bot.categories import CategoryCatalog
from bot.parsing.contacts import find_id_numbers, find_phones
from bot.privacy import PUBLIC, Viewer
from bot.texts import Texts
from bot.tickets import Status
from storage import Ticket

BODY_PREVIEW = 300


def location_text(ticket: Ticket, texts: Texts) -> str:
    """Where the report is, in the reader's words: ``北瑞小区 3号楼 2单元 501室`` or
    ``北瑞小区, Building 3, unit 2, room 501`` (the estate's name as the resident wrote it)."""
    parts = [ticket.estate or ""]
    if ticket.building:
        parts.append(texts("location.building", number=ticket.building))
    if ticket.unit:
        parts.append(texts("location.unit", number=ticket.unit))
    if ticket.room:
        parts.append(texts("location.room", number=ticket.room))
    return texts("location.separator").join(p for p in parts if p)


def contact_text(ticket: Ticket, texts: Texts, viewer: Viewer = PUBLIC) -> str:
    """The phone and ID numbers the resident wrote (however spelled), as ``viewer`` may read
    them: ``138****5678、0471-***3456``."""
    found = [*find_phones(ticket.text), *find_id_numbers(ticket.text)]
    shown = (viewer.shows(ticket, item) for item in dict.fromkeys(found))
    return texts("text.list_separator").join(shown)


def receipt_text(
    ticket: Ticket,
    *,
    catalog: CategoryCatalog,
    texts: Texts,
    tz: ZoneInfo,
    files: int = 0,
    album: bool = False,
    updated: bool = False,
    duplicates: Sequence[int] = (),
) -> str:
    """The receipt in HTML; everything the resident wrote is masked (it goes to the group) and
    escaped."""
    category = catalog.get(ticket.category)
    tag = category.tag if category else ticket.category
    title = "receipt.updated_title" if updated else "receipt.title"
    lines = [texts(title, ticket_id=ticket.id), texts("receipt.category", category=escape(tag))]
    where = location_text(ticket, texts)
    lines.append(
        texts("receipt.location", location=escape(where)) if where else texts("receipt.no_location")
    )
    if ticket.body:
        body = PUBLIC.shows(ticket, ticket.body)
        lines.append(texts("receipt.body", body=escape(_preview(body))))
    if ticket.labels:
        labels = texts("text.list_separator").join(ticket.labels)
        lines.append(texts("receipt.labels", labels=escape(labels)))
    if album:
        # an album has no end marker: more items may still arrive, so no count is promised
        lines.append(texts("receipt.album"))
    elif files:
        lines.append(texts("receipt.files", count=files))
    contact = contact_text(ticket, texts)
    if contact:
        lines.append(texts("receipt.contact", contact=escape(contact)))
    lines.append(texts("receipt.response_due", due=texts.moment(ticket.response_due, tz)))
    lines.append(texts("receipt.resolution_due", due=texts.moment(ticket.resolution_due, tz)))
    if duplicates:
        ids = texts("text.list_separator").join(str(i) for i in duplicates)
        lines.append(texts("receipt.possible_duplicate", ids=ids))
    if ticket.status == Status.NEW:
        lines.append(texts("receipt.footer"))
    else:
        lines.append(status_line(ticket, texts))
    return "\n".join(lines)


def status_line(ticket: Ticket, texts: Texts) -> str:
    status = texts.status(ticket.status)
    if ticket.status == Status.DUPLICATE and ticket.duplicate_of is not None:
        status = f"{status} → {ticket.duplicate_of}"
    if ticket.assignee_name and ticket.status in (Status.ACCEPTED, Status.RESOLVED, Status.CLOSED):
        return texts("receipt.status_by", status=status, name=escape(ticket.assignee_name))
    return texts("receipt.status", status=status)


def _preview(body: str) -> str:
    return body if len(body) <= BODY_PREVIEW else body[: BODY_PREVIEW - 1] + "…"
