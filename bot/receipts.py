"""The receipt a resident sees under her report (pure text; no telegram import)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from bot.categories import CategoryCatalog
from bot.parsing import find_id_numbers, find_phones, mask_sensitive
from bot.texts import Texts
from storage import Ticket

BODY_PREVIEW = 300


def location_text(ticket: Ticket) -> str:
    parts = [ticket.estate or ""]
    if ticket.building:
        parts.append(f"{ticket.building}号楼")
    if ticket.unit:
        parts.append(f"{ticket.unit}单元")
    if ticket.room:
        parts.append(f"{ticket.room}室")
    return " ".join(p for p in parts if p)


def contact_text(text: str) -> str:
    """The phone and ID numbers the resident wrote, masked for a group."""
    found = [*find_phones(text), *find_id_numbers(text)]
    return "、".join(mask_sensitive(item) for item in dict.fromkeys(found))


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
    """The receipt in HTML; everything the resident wrote is masked and escaped."""
    category = catalog.get(ticket.category)
    tag = category.tag if category else ticket.category
    title = "receipt.updated_title" if updated else "receipt.title"
    lines = [texts(title, ticket_id=ticket.id), texts("receipt.category", category=escape(tag))]
    where = location_text(ticket)
    lines.append(
        texts("receipt.location", location=escape(where)) if where else texts("receipt.no_location")
    )
    if ticket.body:
        lines.append(texts("receipt.body", body=escape(_preview(mask_sensitive(ticket.body)))))
    if ticket.labels:
        lines.append(texts("receipt.labels", labels=escape("、".join(ticket.labels))))
    if album:
        # an album has no end marker: more items may still arrive, so no count is promised
        lines.append(texts("receipt.album"))
    elif files:
        lines.append(texts("receipt.files", count=files))
    contact = contact_text(ticket.text)
    if contact:
        lines.append(texts("receipt.contact", contact=escape(contact)))
    lines.append(texts("receipt.response_due", due=texts.moment(ticket.response_due, tz)))
    lines.append(texts("receipt.resolution_due", due=texts.moment(ticket.resolution_due, tz)))
    if duplicates:
        ids = "、".join(str(i) for i in duplicates)
        lines.append(texts("receipt.possible_duplicate", ids=ids))
    if ticket.status == "new":
        lines.append(texts("receipt.footer"))
    else:
        lines.append(status_line(ticket, texts))
    return "\n".join(lines)


def status_line(ticket: Ticket, texts: Texts) -> str:
    status = texts.status(ticket.status)
    if ticket.status == "duplicate" and ticket.duplicate_of is not None:
        status = f"{status} → {ticket.duplicate_of}"
    if ticket.assignee_name and ticket.status in ("accepted", "resolved", "closed"):
        return texts("receipt.status_by", status=status, name=escape(ticket.assignee_name))
    return texts("receipt.status", status=status)


def _preview(body: str) -> str:
    return body if len(body) <= BODY_PREVIEW else body[: BODY_PREVIEW - 1] + "…"
