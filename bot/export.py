"""The ledger (台账): every ticket as one row, as xlsx for the office or as CSV (no telegram).

Rows stream from ``storage.ledger`` a page at a time; a worker thread turns each page into
spreadsheet rows while the event loop reads the next. A 100,000-ticket export never holds more
than two pages and never keeps the event loop waiting for more than a few tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter, sleep
from typing import IO, Any, BinaryIO, Final, Literal, Protocol
from zoneinfo import ZoneInfo

from bot.categories import CategoryCatalog
from bot.links import message_link
from bot.texts import STATUS_NAMES
from bot.tickets import OPEN_STATUSES, Satisfaction, Status
from bot.xlsx import DATETIME_FORMAT, SheetWriter
from storage import Database, Storage
from storage.files import open_private
from storage.ledger import DEFAULT_BATCH, LedgerFilter, LedgerRepository, LedgerRow

logger = logging.getLogger(__name__)

LedgerFormat = Literal["xlsx", "csv"]
LedgerValue = str | int | datetime | None

LEDGER_COLUMNS: Final[tuple[str, ...]] = (
    "工单号",
    "网格",
    "社区",
    "类别",
    "内容",
    "小区",
    "楼栋",
    "单元",
    "房号",
    "上报人",
    "上报时间",
    "状态",
    "处理人",
    "受理时间",
    "办结时间",
    "是否超时",
    "满意度",
    "重办次数",
    "原消息链接",
)
# Widths in Excel character units; a CJK character takes about two.
COLUMN_WIDTHS: Final[tuple[float, ...]] = (
    9, 12, 14, 8, 50, 14, 6, 6, 8, 12, 17, 9, 14, 17, 17, 9, 10, 9, 40,
)  # fmt: skip
LINK_COLUMN: Final = LEDGER_COLUMNS.index("原消息链接")
SATISFACTION_NAMES: Final[dict[str, str]] = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASIC: "基本满意",
    Satisfaction.UNSATISFIED: "不满意",
    Satisfaction.UNRATED: "未评价",
}
XLSX_DATETIME_FORMAT: Final = DATETIME_FORMAT  # "yyyy-mm-dd hh:mm"
CSV_DATETIME_FORMAT: Final = "%Y-%m-%d %H:%M"
SHEET_TITLE: Final = "台账"
# Excel stops at 65,530 hyperlinks per sheet and the writer keeps every link in memory until the
# sheet is complete, so only ledgers up to this many rows get clickable links; larger ones carry
# the address as text.
HYPERLINK_MAX_ROWS: Final = 10_000
# Past 2 GiB the sheet's zip entry needs ZIP64 headers, which some readers (reportedly some
# Excel versions) take badly on small files. The worst row, a 4,096-character body of escaped
# markup, is ~21 KB of XML: only ledgers counted at this many rows or more get the headers, with
# a margin of two for tickets opened while the file is written.
ZIP64_MIN_ROWS: Final = 50_000
# A cell a spreadsheet would run as a formula (CSV injection); residents write the bodies.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_HEADER_FILL = "1F4E78"


# -- one ticket, one row --------------------------------------------------------------------


def is_overdue(row: LedgerRow, now: datetime) -> bool:
    """是否超时: done (or still open, or closed otherwise) after the resolution deadline.

    Unlike ``bot.tickets.is_overdue`` a rejected or duplicate ticket is judged by when it was
    closed, so a ticket left past its deadline and only then rejected still counts as late.
    """
    if row.status in OPEN_STATUSES:
        return now > row.resolution_due
    end = row.resolved_at or row.closed_at or now
    return end > row.resolution_due


def ledger_link(row: LedgerRow) -> str:
    """The original message's t.me address; '' for patrol logs and basic groups (no links)."""
    if row.source == "patrol":
        return ""
    return message_link(row.chat_id, row.message_id) or ""


def ledger_values(
    row: LedgerRow, *, catalog: CategoryCatalog, tz: ZoneInfo, now: datetime
) -> list[LedgerValue]:
    """The row in LEDGER_COLUMNS order; times aware in ``tz``, a missing time is None."""
    category = catalog.get(row.category)
    return [
        row.id,
        row.grid_name,
        row.community_name,
        category.tag if category is not None else row.category,
        row.body,  # unmasked: the ledger is for officers and the office
        row.estate or "",
        row.building or "",
        row.unit or "",
        row.room or "",
        row.reporter_name,
        row.created_at.astimezone(tz),
        STATUS_NAMES[row.status]["zh"] if row.status in STATUS_NAMES else row.status,
        row.assignee_name or "",
        None if row.accepted_at is None else row.accepted_at.astimezone(tz),
        None if row.resolved_at is None else row.resolved_at.astimezone(tz),
        "是" if is_overdue(row, now) else "否",
        "" if row.satisfaction is None else SATISFACTION_NAMES.get(row.satisfaction, ""),
        row.reopen_count,
        ledger_link(row),
    ]


def local_day_bounds(
    since: date | None, until: date | None, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """Local calendar days, both inclusive, as UTC ``[start, end)`` bounds on created_at."""
    start = None if since is None else datetime.combine(since, time(), tz).astimezone(UTC)
    end = (
        None
        if until is None
        else datetime.combine(until + timedelta(days=1), time(), tz).astimezone(UTC)
    )
    return start, end


def ledger_filename(fmt: LedgerFormat, now: datetime, tz: ZoneInfo) -> str:
    """``台账_20261126_1030.xlsx``: what a document sent by the bot is called."""
    return f"台账_{now.astimezone(tz):%Y%m%d_%H%M}.{fmt}"


# -- writing --------------------------------------------------------------------------------


class _GilBreaks:
    """Pauses a worker thread briefly every ``every`` seconds so the event loop gets the GIL.

    The writers release and retake the GIL as they go (csv on each of its many small file
    writes, the xlsx writer while it deflates); CPython then never forces a switch to a waiting
    thread (its switch counter keeps moving), so without real pauses the loop can starve for
    hundreds of milliseconds at a time.
    """

    def __init__(self, every: float = 0.02, pause: float = 0.001) -> None:
        self._every = every
        self._pause = pause
        self._last = perf_counter()

    def __call__(self) -> None:
        now = perf_counter()
        if now - self._last >= self._every:
            sleep(self._pause)
            self._last = perf_counter()


class _Sink(Protocol):
    """A ledger file being written; its methods run in a worker thread, one at a time."""

    rows: int

    def write(self, page: Sequence[LedgerRow]) -> None: ...

    def finish(self) -> None: ...

    def discard(self) -> None: ...


class _Target:
    """Where the bytes go: a path (written beside it, renamed into place when complete) or a
    binary stream the caller owns and keeps open."""

    def __init__(self, target: Path | BinaryIO) -> None:
        self.path = target if isinstance(target, Path) else None
        self.stream: BinaryIO | None = None if isinstance(target, Path) else target
        self.partial = None if self.path is None else self.path.with_name(f".{self.path.name}.part")

    def open(self) -> BinaryIO:
        if self.stream is not None:
            return self.stream
        assert self.partial is not None
        # 0600 whatever the umask (the rename keeps it): the ledger holds residents' numbers.
        # No folder is made: the caller names one that exists.
        return open_private(self.partial)

    def commit(self, handle: IO[Any]) -> None:
        if self.path is not None and self.partial is not None:
            handle.close()
            os.replace(self.partial, self.path)

    def discard(self, handle: IO[Any] | None) -> None:
        if self.partial is not None:
            if handle is not None:
                handle.close()
            self.partial.unlink(missing_ok=True)


class _XlsxSink:
    """The ledger as xlsx: rows go straight into the file through bot.xlsx's streaming writer."""

    def __init__(
        self,
        target: _Target,
        convert: Callable[[LedgerRow], list[LedgerValue]],
        *,
        hyperlinks: bool,
        zip64: bool,
        created: datetime,
    ) -> None:
        self.rows = 0
        self._target = target
        self._convert = convert
        self._pause = _GilBreaks()
        self._handle = target.open()
        try:
            self._sheet = SheetWriter(
                self._handle,
                title=SHEET_TITLE,
                header=LEDGER_COLUMNS,
                widths=COLUMN_WIDTHS,
                header_fill=_HEADER_FILL,
                # A link is text unless this ledger is small enough for real hyperlinks.
                link_column=LINK_COLUMN if hyperlinks else None,
                created=created,
                zip64=zip64,
            )
        except BaseException:
            target.discard(self._handle)
            raise

    def write(self, page: Sequence[LedgerRow]) -> None:
        append, convert, pause = self._sheet.append, self._convert, self._pause
        for row in page:
            append(convert(row))
            pause()
        self.rows += len(page)

    def finish(self) -> None:
        self._sheet.close()
        self._target.commit(self._handle)

    def discard(self) -> None:
        self._sheet.abort()
        self._target.discard(self._handle)


class _CsvSink:
    def __init__(self, target: _Target, convert: Callable[[LedgerRow], list[LedgerValue]]) -> None:
        self.rows = 0
        self._target = target
        self._convert = convert
        self._pause = _GilBreaks()
        self._binary = target.open()
        # utf-8-sig writes the BOM Excel needs to read the file as UTF-8 (else Chinese breaks).
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._text)
        self._writer.writerow(LEDGER_COLUMNS)

    def write(self, page: Sequence[LedgerRow]) -> None:
        writerow, convert, pause = self._writer.writerow, self._convert, self._pause
        for row in page:
            writerow([_csv_text(v) for v in convert(row)])
            pause()
        self.rows += len(page)

    def finish(self) -> None:
        self._text.flush()
        self._text.detach()  # leave the caller's stream open
        self._target.commit(self._binary)

    def discard(self) -> None:
        with contextlib.suppress(ValueError):  # already detached by finish
            self._text.detach()  # never close the caller's stream
        self._target.discard(self._binary)


def _csv_text(value: LedgerValue) -> str | int:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # isoformat is C and many times faster than strftime(CSV_DATETIME_FORMAT); same text.
        return value.replace(tzinfo=None).isoformat(" ", "minutes")
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # OWASP's advice against CSV injection: a leading quote makes a spreadsheet show text.
        return "'" + value
    return value


async def write_ledger(
    storage_or_db: Storage | Database,
    fmt: LedgerFormat,
    target: Path | BinaryIO,
    *,
    catalog: CategoryCatalog,
    tz: ZoneInfo,
    now: datetime,
    grid: str | None = None,
    community: str | None = None,
    since: date | None = None,
    until: date | None = None,
    grid_ids: Sequence[int] | None = None,
    statuses: Sequence[Status] | None = None,
    category: str | None = None,
    overdue: bool = False,
    text: str | None = None,
    batch: int = DEFAULT_BATCH,
    hyperlink_max_rows: int = HYPERLINK_MAX_ROWS,
) -> int:
    """Write the ledger of the matching tickets to ``target``; returns how many rows it has.

    ``since``/``until`` are local days in ``tz``, both inclusive, on the ticket's opening time.
    ``statuses``, ``category``, ``overdue`` (open past the resolution deadline at ``now``) and
    ``text`` (in the body or the address) narrow it as the staff page's ticket table does.
    A path target appears only once complete; a stream is written to and left open.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"unknown ledger format {fmt!r}")
    db = storage_or_db.db if isinstance(storage_or_db, Storage) else storage_or_db
    ledger = LedgerRepository(db)
    where = LedgerFilter(
        grid,
        community,
        *local_day_bounds(since, until, tz),
        grid_ids=None if grid_ids is None else tuple(grid_ids),
        statuses=None if statuses is None else tuple(statuses),
        category=category,
        overdue_at=now if overdue else None,
        text=text,
    )

    def convert(row: LedgerRow) -> list[LedgerValue]:
        return ledger_values(row, catalog=catalog, tz=tz, now=now)

    sink: _Sink
    if fmt == "xlsx":
        expected = await ledger.count(where)
        sink = await asyncio.to_thread(
            _XlsxSink,
            _Target(target),
            convert,
            hyperlinks=expected <= hyperlink_max_rows,
            zip64=expected >= ZIP64_MIN_ROWS,
            created=now,
        )
    else:
        sink = await asyncio.to_thread(_CsvSink, _Target(target), convert)
    await _pump(ledger, where, sink, batch)
    logger.info("ledger: %d tickets written as %s", sink.rows, fmt)
    return sink.rows


async def _pump(ledger: LedgerRepository, where: LedgerFilter, sink: _Sink, batch: int) -> None:
    """Read pages on the loop and write them in a worker thread, one page in flight at a time.

    At most two pages are in memory (the one being written and the one just read); the worker
    never holds the event loop, and the database lock is taken only per page.
    """
    writing: asyncio.Future[None] | None = None
    try:
        async with contextlib.aclosing(ledger.pages(where, batch=batch)) as pages:
            async for page in pages:
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(asyncio.to_thread(sink.write, page))
        if writing is not None:
            await writing
            writing = None
        await asyncio.to_thread(sink.finish)
    except BaseException:
        # A worker thread cannot be stopped: let its page finish before the file is removed.
        if writing is not None and not writing.done():
            await asyncio.wait([writing])
        await asyncio.to_thread(sink.discard)
        raise
