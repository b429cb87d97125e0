"""The staff page's content: the overview, the ticket table, a ticket, its photos, the ledger.

Every handler starts by asking :func:`bot.web.app.current_scope` who is looking, and shows only
the grids of that scope: a ticket of another grid answers exactly like a missing one (404).
Nothing here writes but the audit rows (a ticket viewed, a photo, a download).

Phone and ID numbers are shown unmasked, as ``bot.privacy`` rules for staff reading in private:
the page is a staff-only place like the ledger (every visitor is an officer, community or street
staff or an admin, logged in personally, and sees only the grids she is staff for), so
``may_see_contacts(…, viewer_is_staff=True, chat_is_private=True)`` holds for every ticket
shown; the detail page asks it through a :class:`bot.privacy.Viewer` all the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.categories import CategoryCatalog
from bot.export import (
    LedgerFormat,
    LedgerPart,
    care_filename,
    export_ledger,
    ledger_filename,
    local_day_bounds,
)
from bot.links import message_link
from bot.privacy import Viewer
from bot.receipts import contact_text
from bot.texts import SYSTEM_ACTOR, Texts
from bot.tickets import EventKind, Status, is_overdue
from bot.views import ESCALATION_LEVELS, EVENT_KINDS, event_note
from bot.web.access import Scope
from bot.web.app import WebRuntime, audit, current_scope, proxy_file, render, runtime_of
from bot.web.format import Formatter
from bot.web.overview import OverviewCache
from bot.web.svg import ChartWeek, trend_chart
from storage import GridInfo, Ticket, TicketEvent
from storage.ledger import LedgerFilter
from storage.vocabulary import OPEN_STATUSES, AuditAction
from storage.webviews import SORTS, TicketRow, WebViews

logger = logging.getLogger(__name__)

PAGE_SIZE: Final = 50
PAGE_LINKS: Final = 2  # page links shown on each side of the current one
PREVIEW: Final = 60  # characters of a report in the table
TEXT_MAX: Final = 100  # characters of a text search
NOTE_MAX: Final = 2000  # characters of a history note shown
FIRST_DAY: Final = date(1, 1, 2)  # the days a filter may name: their UTC bounds fit a datetime
LAST_DAY: Final = date(9999, 12, 30)
MAX_ID: Final = 2**63 - 1  # a row id beyond this is in no table (and overflows SQLite's integer)
# The direction each sort starts in: newest, most urgent, lifecycle, grid.
SORT_START: Final[Mapping[str, bool]] = {
    "created": True,
    "due": False,
    "status": False,
    "grid": False,
}
DEFAULT_SORT: Final = "created"
SORT_LABELS: Final[Mapping[str, str]] = {
    "created": "web_page.sort_created",
    "due": "web_page.sort_due",
    "status": "web_page.sort_status",
    "grid": "web_page.sort_grid",
}
OPEN_CHOICE: Final = "open"  # the status filter's "new or accepted"
LEDGER_FOLDER_PREFIX: Final = "linlitong-ledger-"  # a download's private temporary folder
DOWNLOAD_CHUNK: Final = 256 * 1024
LEDGER_TYPES: Final[Mapping[str, str]] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
# History rows whose note is bookkeeping (a file count, which reminder), as /show leaves them out


def routes() -> list[Route]:
    return [
        Route("/", overview, methods=["GET"]),
        Route("/tickets", tickets, methods=["GET"]),
        Route("/tickets/{ticket_id:int}", ticket_page, methods=["GET"]),
        Route("/tickets/{ticket_id:int}/media/{media_id:int}", ticket_media, methods=["GET"]),
        Route("/ledger.xlsx", ledger_xlsx, methods=["GET"]),
        Route("/ledger.csv", ledger_csv, methods=["GET"]),
        Route("/ledger-care.csv", ledger_care_csv, methods=["GET"]),
    ]


# -- what every page needs ------------------------------------------------------------------------


def overview_cache(request: Request) -> OverviewCache:
    """The process's overview figures (``app.state.overview``; tests may set their own)."""
    cache: OverviewCache | None = getattr(request.app.state, "overview", None)
    if cache is None:
        cache = OverviewCache()
        request.app.state.overview = cache
    return cache


async def catalog_of(request: Request) -> CategoryCatalog:
    """The categories as the bot loads them (CATEGORIES_FILE), read once per process."""
    catalog: CategoryCatalog | None = getattr(request.app.state, "catalog", None)
    if catalog is None:
        web = runtime_of(request)
        catalog = await asyncio.to_thread(CategoryCatalog.load, web.settings.categories_file)
        request.app.state.catalog = catalog
    return catalog


def formatter(web: WebRuntime, now: datetime) -> Formatter:
    return Formatter(web.texts, web.settings.tz, now)


async def grids_in(web: WebRuntime, scope: Scope) -> list[GridInfo]:
    """The grids ``scope`` sees, by community and name."""
    return [g for g in await web.storage.grids.grids() if scope.sees(g.id)]


def tag_of(catalog: CategoryCatalog, key: str) -> str:
    category = catalog.get(key)
    return category.tag if category is not None else key


class Located(Protocol):
    @property
    def estate(self) -> str | None: ...

    @property
    def building(self) -> str | None: ...

    @property
    def unit(self) -> str | None: ...

    @property
    def room(self) -> str | None: ...


def where_text(item: Located, texts: Texts) -> str:
    """``北瑞小区 3号楼 2单元 501室`` (``bot.receipts.location_text``'s words), '' if unknown."""
    parts = [item.estate or ""]
    if item.building:
        parts.append(texts("location.building", number=item.building))
    if item.unit:
        parts.append(texts("location.unit", number=item.unit))
    if item.room:
        parts.append(texts("location.room", number=item.room))
    return texts("location.separator").join(p for p in parts if p)


def telegram_link(source: str, chat_id: int, message_id: int) -> str | None:
    """The original message in Telegram (None for patrol logs and basic groups)."""
    return None if source == "patrol" else message_link(chat_id, message_id)


def cut(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


# -- the overview ---------------------------------------------------------------------------------


async def overview(request: Request) -> Response:
    """Today and this week per grid, the three rates over 7 and 30 days, the ranking, the trend."""
    scope = await current_scope(request)
    web = runtime_of(request)
    now = web.clock.now()
    grids = await grids_in(web, scope)
    fmt = formatter(web, now)
    if not grids:
        return render(request, "overview.html", active="overview", view=None, fmt=fmt)
    communities = sorted({(g.community_name, g.community_id) for g in grids})
    chosen = _int(request.query_params.get("community"))
    if chosen is not None and any(c[1] == chosen for c in communities):
        grids = [g for g in grids if g.community_id == chosen]
    else:
        chosen = None
    cache = overview_cache(request)
    snapshot = await cache.snapshot(web.storage.db, web.settings.tz, now)
    shown = cache.view(snapshot, grids)
    chart = trend_chart(
        [ChartWeek(w.start, w.new, w.resolved, w.resolution) for w in shown.chart],
        title=web.texts("web_page.chart_title", weeks=len(shown.chart)),
        texts=web.texts,
        tz=web.settings.tz,
    )
    return render(
        request,
        "overview.html",
        active="overview",
        view=shown,
        chart=chart,
        fmt=fmt,
        communities=communities if len(communities) > 1 else [],
        community=chosen,
    )


# -- the ticket table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketQuery:
    """The table's filters, sort and page as the query string gives them; anything unknown or
    malformed is left out rather than refused (an old bookmark still opens)."""

    grid: int | None = None
    status: str = ""  # "", OPEN_CHOICE or a Status
    category: str = ""
    overdue: bool = False
    since: date | None = None
    until: date | None = None
    text: str = ""
    sort: str = DEFAULT_SORT
    descending: bool = True
    page: int = 1

    @classmethod
    def parse(
        cls, params: Mapping[str, str], grids: Sequence[GridInfo], catalog: CategoryCatalog
    ) -> TicketQuery:
        grid = _int(params.get("grid"))
        status = params.get("status", "")
        category = params.get("category", "")
        sort = params.get("sort", DEFAULT_SORT)
        sort = sort if sort in SORTS else DEFAULT_SORT
        direction = params.get("dir", "")
        since, until = _day(params.get("from")), _day(params.get("to"))
        if since is not None and until is not None and until < since:
            since, until = until, since
        return cls(
            grid=grid if grid is not None and any(g.id == grid for g in grids) else None,
            status=status if status == OPEN_CHOICE or status in set(Status) else "",
            category=category if catalog.get(category) is not None else "",
            overdue=params.get("overdue") == "1",
            since=since,
            until=until,
            text=" ".join(params.get("q", "").split())[:TEXT_MAX],
            sort=sort,
            descending=SORT_START[sort]
            if direction not in ("asc", "desc")
            else direction == "desc",
            page=max(1, min(_int(params.get("page")) or 1, 10**9)),
        )

    def filter(self, scope: Scope, web: WebRuntime, now: datetime) -> LedgerFilter:
        """The tickets this query means, within ``scope``: the same for the table and ledger."""
        grid_ids: tuple[int, ...] | None
        if self.grid is not None:
            grid_ids = (self.grid,) if scope.sees(self.grid) else ()
        else:
            grid_ids = None if scope.grid_ids is None else tuple(sorted(scope.grid_ids))
        since_utc, until_utc = local_day_bounds(self.since, self.until, web.settings.tz)
        return LedgerFilter(
            since_utc=since_utc,
            until_utc=until_utc,
            grid_ids=grid_ids,
            statuses=self.statuses,
            category=self.category or None,
            overdue_at=now if self.overdue else None,
            text=self.text or None,
        )

    @property
    def statuses(self) -> tuple[Status, ...] | None:
        if self.status == OPEN_CHOICE:
            return OPEN_STATUSES
        return (Status(self.status),) if self.status else None

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string's fields (defaults left out), with ``changes`` applied."""
        query = replace(self, **changes)
        fields = {
            "grid": "" if query.grid is None else str(query.grid),
            "status": query.status,
            "category": query.category,
            "overdue": "1" if query.overdue else "",
            "from": "" if query.since is None else query.since.isoformat(),
            "to": "" if query.until is None else query.until.isoformat(),
            "q": query.text,
            "sort": "" if query.sort == DEFAULT_SORT else query.sort,
            "dir": "" if query.descending == SORT_START[query.sort] else _dir(query.descending),
            "page": "" if query.page == 1 else str(query.page),
        }
        return {k: v for k, v in fields.items() if v}

    def link(self, path: str, **changes: Any) -> str:
        encoded = urlencode(self.params(**changes))
        return f"{path}?{encoded}" if encoded else path

    def filters_only(self) -> dict[str, str]:
        """What narrows the tickets (the ledger's query): no sort, no page."""
        return {k: v for k, v in self.params().items() if k not in ("sort", "dir", "page")}

    @property
    def filtered(self) -> bool:
        return bool(self.filters_only())


def _dir(descending: bool) -> str:
    return "desc" if descending else "asc"


def _int(text: str | None) -> int | None:
    # ASCII only: str.isdigit() also says yes to "²", which int() refuses
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text)


def _day(text: str | None) -> date | None:
    """A day of the query string; None if malformed or at the calendar's very ends (a day's
    UTC bounds there lie outside what a datetime holds)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


@dataclass(frozen=True)
class Row:
    """One ticket as the table shows it."""

    id: int
    grid: str
    community: str
    tag: str
    preview: str
    where: str
    status: Status
    status_name: str
    overdue: bool
    created_at: datetime
    resolution_due: datetime
    assignee: str
    link: str | None


@dataclass(frozen=True)
class SortLink:
    key: str
    label: str
    href: str
    aria: str  # aria-sort: ascending / descending / none


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: a gap (…)
    href: str
    current: bool


async def tickets(request: Request) -> Response:
    """The ticket table: filters, sort and paging in a plain GET form (no script needed)."""
    scope = await current_scope(request)
    web = runtime_of(request)
    now = web.clock.now()
    catalog = await catalog_of(request)
    grids = await grids_in(web, scope)
    query = TicketQuery.parse(request.query_params, grids, catalog)
    where = query.filter(scope, web, now)
    views = WebViews(web.storage.db)
    page = await views.ticket_page(
        where,
        sort=query.sort,
        descending=query.descending,
        limit=PAGE_SIZE,
        offset=(query.page - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-page.total // PAGE_SIZE))
    if query.page > pages and page.total:
        query = replace(query, page=pages)
        page = await views.ticket_page(
            where,
            sort=query.sort,
            descending=query.descending,
            limit=PAGE_SIZE,
            offset=(pages - 1) * PAGE_SIZE,
        )
    names = {g.id: g for g in grids}
    rows = [_row(r, names, catalog, web.texts, now) for r in page.rows]
    base = web.base
    ledger_query = urlencode(query.filters_only())
    care_csv_href = None
    if await _keeps_roster(web, where.grid_ids):
        care_query = urlencode({k: v for k, v in query.filters_only().items() if k in CARE_FILTERS})
        care_csv_href = f"{base}/ledger-care.csv" + (f"?{care_query}" if care_query else "")
    return render(
        request,
        "tickets.html",
        active="tickets",
        fmt=formatter(web, now),
        query=query,
        rows=rows,
        total=page.total,
        page=query.page,
        pages=pages,
        first_shown=(query.page - 1) * PAGE_SIZE + 1 if rows else 0,
        last_shown=(query.page - 1) * PAGE_SIZE + len(rows),
        grids=grids,
        categories=list(catalog),
        statuses=[(OPEN_CHOICE, web.texts("web_page.status_open"))]
        + [(s.value, web.texts.status(s)) for s in Status],
        sorts=_sort_links(query, f"{base}/tickets", web.texts),
        page_links=_page_links(query, pages, f"{base}/tickets"),
        prev_href=query.link(f"{base}/tickets", page=query.page - 1) if query.page > 1 else None,
        next_href=query.link(f"{base}/tickets", page=query.page + 1)
        if query.page < pages
        else None,
        xlsx_href=f"{base}/ledger.xlsx" + (f"?{ledger_query}" if ledger_query else ""),
        csv_href=f"{base}/ledger.csv" + (f"?{ledger_query}" if ledger_query else ""),
        care_csv_href=care_csv_href,
        clear_href=f"{base}/tickets",
        keep=[(k, v) for k, v in query.params().items() if k in ("sort", "dir")],
        any_tickets=page.total > 0 or query.filtered,
    )


def _row(
    row: TicketRow,
    grids: Mapping[int, GridInfo],
    catalog: CategoryCatalog,
    texts: Texts,
    now: datetime,
) -> Row:
    grid = grids.get(row.grid_id)
    # Unmasked: every row is of a grid the viewer is staff for (module docstring).
    return Row(
        id=row.id,
        grid=grid.name if grid is not None else str(row.grid_id),
        community=grid.community_name if grid is not None else "",
        tag=tag_of(catalog, row.category),
        preview=cut(row.body, PREVIEW),
        where=where_text(row, texts),
        status=row.status,
        status_name=texts.status(row.status),
        overdue=row.is_overdue(now),
        created_at=row.created_at,
        resolution_due=row.resolution_due,
        assignee=row.assignee_name or "",
        link=telegram_link(row.source, row.chat_id, row.message_id),
    )


def _sort_links(query: TicketQuery, path: str, texts: Texts) -> dict[str, SortLink]:
    links = {}
    for key in SORTS:
        current = query.sort == key
        descending = not query.descending if current else SORT_START[key]
        aria = ("descending" if query.descending else "ascending") if current else "none"
        links[key] = SortLink(
            key=key,
            label=texts(SORT_LABELS[key]),
            href=query.link(path, sort=key, descending=descending, page=1),
            aria=aria,
        )
    return links


def _page_links(query: TicketQuery, pages: int, path: str) -> list[PageLink]:
    wanted = {1, pages, *range(query.page - PAGE_LINKS, query.page + PAGE_LINKS + 1)}
    shown = sorted(n for n in wanted if 1 <= n <= pages)
    links: list[PageLink] = []
    for number in shown:
        if links and links[-1].number is not None and number - (links[-1].number or 0) > 1:
            links.append(PageLink(None, "", False))
        links.append(PageLink(number, query.link(path, page=number), number == query.page))
    return links


# -- the ledger download ---------------------------------------------------------------------------

# What of the table's filters narrows the 关爱走访 part: the grid and the days (of a visit).
CARE_FILTERS: Final = frozenset({"grid", "from", "to"})


async def _keeps_roster(web: WebRuntime, grid_ids: Sequence[int] | None) -> bool:
    """Whether anybody of these grids is on the 关爱走访 roster (the care download is offered)."""
    if grid_ids is not None and not grid_ids:
        return False
    return bool(await web.storage.care.people_by_grid(grid_ids))


async def ledger_xlsx(request: Request) -> Response:
    return await _ledger(request, "xlsx", "all")


async def ledger_csv(request: Request) -> Response:
    return await _ledger(request, "csv", "tickets")


async def ledger_care_csv(request: Request) -> Response:
    return await _ledger(request, "csv", "care")


async def _ledger(request: Request, fmt: LedgerFormat, what: LedgerPart) -> Response:
    """The table's tickets (same query string, same filter) as the ledger: written to a private
    temporary file (bot.export writes in a worker thread), opened, its folder removed at once,
    and sent from the open file, so nothing is left behind however the download ends.

    Everyone the page lets in is staff for the grids of her scope, who may see their 关爱走访
    roster: the xlsx has it as a second sheet where those grids keep one; as CSV it is a
    download of its own (``/ledger-care.csv``: the grid and days of the table's filters)."""
    scope = await current_scope(request)
    web = runtime_of(request)
    now = web.clock.now()
    catalog = await catalog_of(request)
    grids = await grids_in(web, scope)
    query = TicketQuery.parse(request.query_params, grids, catalog)
    where = query.filter(scope, web, now)
    tz = web.settings.tz
    name = (care_filename if what == "care" else ledger_filename)(fmt, now, tz)
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=LEDGER_FOLDER_PREFIX))
    try:
        written = await export_ledger(
            web.storage,
            fmt,
            folder / name,
            catalog=catalog,
            tz=tz,
            now=now,
            what=what,
            empty_care=False,
            since=query.since,
            until=query.until,
            grid_ids=where.grid_ids,
            statuses=where.statuses,
            category=where.category,
            overdue=where.overdue_at is not None,
            text=where.text,
        )
        handle = await asyncio.to_thread(open, folder / name, "rb")
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    filters = query.filters_only()
    if what == "care":
        filters = {k: v for k, v in filters.items() if k in CARE_FILTERS}
    kind = "care-csv" if what == "care" else fmt
    target = f"{kind}?{urlencode(filters)}".rstrip("?")
    try:
        await audit(request, scope, AuditAction.DOWNLOAD, target)
    except BaseException:
        handle.close()  # not audited, not sent
        raise
    logger.info(
        "web: ledger of %d tickets, care of %d people for user %s",
        written.tickets,
        written.people,
        scope.user_id,
    )
    size = os.fstat(handle.fileno()).st_size
    return StreamingResponse(
        _chunks(handle),
        media_type=LEDGER_TYPES[fmt],
        headers={
            "Content-Disposition": f"attachment; filename*=utf-8''{quote(name)}",
            "Content-Length": str(size),
        },
    )


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    """An open file's bytes, read in a worker thread; closed when done or abandoned."""
    try:
        while chunk := await asyncio.to_thread(handle.read, DOWNLOAD_CHUNK):
            yield chunk
    finally:
        handle.close()


# -- one ticket -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    what: str
    who: str
    note: str
    change: str  # "待受理 → 处理中", or ''


@dataclass(frozen=True)
class Photo:
    href: str
    image: bool
    label: str


async def _ticket_in_scope(request: Request, scope: Scope, ticket_id: int) -> Ticket:
    """The ticket if the scope sees its grid; the 404 of a missing page otherwise."""
    web = runtime_of(request)
    ticket = None if ticket_id > MAX_ID else await web.storage.tickets.get(ticket_id)
    if ticket is None or not scope.sees(ticket.grid_id):
        raise HTTPException(404)
    return ticket


async def ticket_page(request: Request) -> Response:
    """Everything about one ticket: its report, place, deadlines, people, photos, 回访, history."""
    scope = await current_scope(request)
    ticket = await _ticket_in_scope(request, scope, int(request.path_params["ticket_id"]))
    web = runtime_of(request)
    now = web.clock.now()
    texts = web.texts
    catalog = await catalog_of(request)
    views = WebViews(web.storage.db)
    events = await web.storage.tickets.events(ticket.id)
    viewer = Viewer(scope.user_id, private=True, staff_grids=scope.grid_ids)
    grid = await web.storage.grids.grid(ticket.grid_id)
    media = await views.media(ticket.id)
    await audit(request, scope, AuditAction.VIEW_TICKET, str(ticket.id))
    base = web.base
    return render(
        request,
        "ticket.html",
        active="tickets",
        fmt=formatter(web, now),
        ticket=ticket,
        title=texts("web_page.ticket_title", id=ticket.id),
        tag=tag_of(catalog, ticket.category),
        status_name=texts.status(ticket.status),
        overdue=is_overdue(ticket, now),
        open_overdue=ticket.is_open and now > ticket.resolution_due,
        response_late=_response_late(ticket, now),
        grid=grid,
        body=viewer.shows(ticket, ticket.body),
        contacts=contact_text(ticket, texts, viewer),
        where=where_text(ticket, texts),
        link=telegram_link(ticket.source, ticket.chat_id, ticket.message_id),
        labels=texts("text.list_separator").join(ticket.labels),
        co_reporters=await views.co_reporters(ticket.id),
        photos=[
            Photo(
                href=f"{base}/tickets/{ticket.id}/media/{m.id}",
                image=m.kind == "photo",
                label=texts("web_page.media_file", n=n),
            )
            for n, m in enumerate(media, start=1)
        ],
        rating=None if ticket.satisfaction is None else texts(f"rating.{ticket.satisfaction}"),
        feedback=[e for e in events if e.kind == EventKind.FEEDBACK],
        history=[_history_line(e, texts, viewer, ticket) for e in events],
        escalation=(
            texts(f"escalation.level.{ticket.escalation_level}")
            if str(ticket.escalation_level) in ESCALATION_LEVELS
            else ""
        ),
        back_href=f"{base}/tickets",
    )


def _response_late(ticket: Ticket, now: datetime) -> bool:
    """First acted on after the response deadline, or not yet and the deadline gone."""
    if ticket.accepted_at is not None:
        return ticket.accepted_at > ticket.response_due
    return ticket.status == Status.NEW and now > ticket.response_due


def _history_line(event: TicketEvent, texts: Texts, viewer: Viewer, ticket: Ticket) -> HistoryLine:
    what = texts(f"event.{event.kind}") if event.kind in EVENT_KINDS else event.kind
    if event.actor_id is None and event.actor_name == SYSTEM_ACTOR:
        who = texts("actor.system")
    else:
        who = event.actor_name
    change = ""
    if event.from_status and event.to_status and event.from_status != event.to_status:
        change = texts(
            "web_page.status_change",
            before=texts.status(event.from_status),
            after=texts.status(event.to_status),
        )
    return HistoryLine(
        event.at,
        what,
        who,
        event_note(event, texts, lambda text: viewer.shows(ticket, text[:NOTE_MAX])),
        change,
    )


async def ticket_media(request: Request) -> Response:
    """A ticket's photo (or other file), fetched from Telegram by the server: only when the
    file belongs to the ticket and the ticket to the scope (else the same 404)."""
    scope = await current_scope(request)
    ticket = await _ticket_in_scope(request, scope, int(request.path_params["ticket_id"]))
    web = runtime_of(request)
    media_id = int(request.path_params["media_id"])
    views = WebViews(web.storage.db)
    item = None if media_id > MAX_ID else await views.media_item(ticket.id, media_id)
    if item is None:
        raise HTTPException(404)
    await audit(request, scope, AuditAction.VIEW_PHOTO, f"{ticket.id}/{media_id}")
    return await proxy_file(web, item.file_id)
