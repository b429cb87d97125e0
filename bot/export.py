"""The ledger (台账): every ticket as one row, as xlsx for the office or as CSV (no telegram).

Rows stream from ``storage.ledger`` a page at a time; a worker thread turns each page into
spreadsheet rows while the event loop reads the next. A 100,000-ticket export never holds more
than two pages and never keeps the event loop waiting for more than a few tens of milliseconds.

关爱走访 (``what="care"``, or the second sheet of ``what="all"``): one row per visit of each
person on the roster of the grids (a person never visited: one row, its visit columns empty),
from ``storage.care.CareRepository.ledger``; the emergency contact's number masked, times in
TIMEZONE. The roster is small beside the tickets: it is read at once, then written in the worker
thread like a page. As CSV it is a file of its own (``care_path``: ``台账_关爱走访.csv`` beside
``台账.csv``), since a CSV holds one table. Only people who may see the roster get it: the
officers, staff and admins of its grids (/export, the web page, the command line).

议事 (``what="votes"``, or a sheet of ``what="all"`` when the grids have votes): one row per
eligible household of each vote — the question, options, rule, scope, who started it, the
deadline, the result, and the household's final answer with who gave it (a proxy marked, with
its note) — from ``storage.votes.VoteRepository.ledger``. As CSV its own file (``votes_path``:
``台账_议事.csv``).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter, sleep
from typing import IO, Any, BinaryIO, Final, Literal, ParamSpec, Protocol
from zoneinfo import ZoneInfo

from bot.categories import CategoryCatalog
from bot.links import message_link
from bot.parsing.contacts import mask_sensitive
from bot.texts import STATUS_NAMES
from bot.tickets import OPEN_STATUSES, Satisfaction, Status
from bot.xlsx import DATETIME_FORMAT, Sheet, SheetWriter
from storage import Database, GridInfo, GridRepository, Storage
from storage.care import CarePerson, CareRepository, CareVisit
from storage.files import open_private
from storage.ledger import DEFAULT_BATCH, LedgerFilter, LedgerRepository, LedgerRow
from storage.vocabulary import CareStatus, VisitOutcome, VisitWay, VoteStatus
from storage.votes import LedgerVote, VoteHousehold, VoteRepository

logger = logging.getLogger(__name__)
_P = ParamSpec("_P")

LedgerFormat = Literal["xlsx", "csv"]
LedgerPart = Literal["tickets", "care", "votes", "all"]  # what a ledger holds: `export --what`
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

CARE_SHEET_TITLE: Final = "关爱走访"
CARE_COLUMNS: Final[tuple[str, ...]] = (
    "编号",
    "网格",
    "社区",
    "称呼",
    "地址",
    "等级",
    "状态",
    "走访人",
    "紧急联系人",
    "走访时间",
    "方式",
    "结果",
    "备注",
    "关联工单",
)
CARE_WIDTHS: Final[tuple[float, ...]] = (7, 12, 14, 10, 28, 8, 12, 10, 22, 17, 12, 11, 40, 9)
CARE_STATUS_NAMES: Final[dict[str, str]] = {
    CareStatus.ACTIVE: "在册",
    CareStatus.PAUSED: "暂停",
    CareStatus.ENDED: "结束",
}
VISIT_WAY_NAMES: Final[dict[str, str]] = {
    VisitWay.HOME: "上门",
    VisitWay.CALL: "电话/视频",
    VisitWay.PROXY: "亲属邻里代看",
    VisitWay.VOLUNTEER: "志愿者结对",
    VisitWay.DEVICE: "智能设备",
}
VISIT_OUTCOME_NAMES: Final[dict[str, str]] = {
    VisitOutcome.NORMAL: "正常",
    VisitOutcome.CONCERN: "异常需跟进",
    VisitOutcome.UNSEEN: "未见到",
    VisitOutcome.REFUSED: "拒访",
}
VOTES_SHEET_TITLE: Final = "议事"
VOTE_COLUMNS: Final[tuple[str, ...]] = (
    "议事编号",
    "网格",
    "社区",
    "事项",
    "选项",
    "通过规则",
    "范围",
    "发起人",
    "发起时间",
    "截止时间",
    "状态",
    "结束时间",
    "结果",
    "户号",
    "表态",
    "表态人",
    "代录",
    "备注",
    "表态时间",
)
VOTE_WIDTHS: Final[tuple[float, ...]] = (
    9, 12, 14, 36, 20, 20, 10, 12, 17, 17, 8, 17, 30, 11, 10, 12, 6, 24, 17,
)  # fmt: skip
VOTE_STATUS_NAMES: Final[dict[str, str]] = {VoteStatus.OPEN: "进行中", VoteStatus.CLOSED: "已结束"}
TICKETS_SHEET: Final = Sheet(SHEET_TITLE, LEDGER_COLUMNS, COLUMN_WIDTHS, LINK_COLUMN)
CARE_SHEET: Final = Sheet(CARE_SHEET_TITLE, CARE_COLUMNS, CARE_WIDTHS)
VOTES_SHEET: Final = Sheet(VOTES_SHEET_TITLE, VOTE_COLUMNS, VOTE_WIDTHS)


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


def care_filename(fmt: LedgerFormat, now: datetime, tz: ZoneInfo) -> str:
    """``关爱走访_20261126_1030.csv``: the care ledger on its own."""
    return f"{CARE_SHEET_TITLE}_{now.astimezone(tz):%Y%m%d_%H%M}.{fmt}"


def care_path(path: Path) -> Path:
    """Where a CSV ledger's 关爱走访 goes: ``台账_关爱走访.csv`` beside ``台账.csv``."""
    return path.with_name(f"{path.stem}_{CARE_SHEET_TITLE}{path.suffix}")


# -- 关爱走访: one visit, one row ------------------------------------------------------------


@dataclass(frozen=True)
class CareLine:
    """One row of the care sheet: a person and one of their visits (None: never visited)."""

    person: CarePerson
    visit: CareVisit | None
    grid: GridInfo | None


def care_values(line: CareLine, tz: ZoneInfo) -> list[LedgerValue]:
    """The row in CARE_COLUMNS order. 走访人 is who made the visit, or for a person never
    visited the visitor named on the roster; the emergency contact's number is masked."""
    person, visit, grid = line.person, line.visit, line.grid
    status = CARE_STATUS_NAMES.get(person.status, person.status)
    if person.status_note:
        status = f"{status}（{person.status_note}）"
    values: list[LedgerValue] = [
        person.id,
        grid.name if grid is not None else "",
        grid.community_name if grid is not None else "",
        person.name,
        person.address,
        person.tier,
        status,
        (visit.visitor_name if visit is not None else person.visitor_name) or "",
        mask_sensitive(person.contact),
    ]
    if visit is None:
        return [*values, None, "", "", "", None]
    return [
        *values,
        visit.visited_at.astimezone(tz),
        VISIT_WAY_NAMES.get(visit.way, visit.way),
        VISIT_OUTCOME_NAMES.get(visit.outcome, visit.outcome),
        visit.note,
        visit.ticket_id,
    ]


@dataclass(frozen=True)
class CareLedger:
    """What the care sheet holds: its rows, how many people and visits."""

    lines: list[CareLine]
    people: int
    visits: int


async def read_care(
    db: Database,
    *,
    tz: ZoneInfo,
    grid_ids: Sequence[int] | None = None,
    grid: str | None = None,
    community: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> CareLedger:
    """The people of the grids (``grid_ids`` and the names, as the tickets are filtered) with
    their visits on the local days ``since``…``until`` (both inclusive)."""
    grids = {g.id: g for g in await GridRepository(db).grids()}
    chosen: set[int] | None = None if grid_ids is None else set(grid_ids)
    if grid is not None or community is not None:
        named = {
            g.id
            for g in grids.values()
            if (grid is None or g.name == grid)
            and (community is None or g.community_name == community)
        }
        chosen = named if chosen is None else chosen & named
    if chosen is not None and not chosen:
        return CareLedger([], 0, 0)
    start, end = local_day_bounds(since, until, tz)
    lines: list[CareLine] = []
    people = visits = 0
    for person, all_visits in await CareRepository(db).ledger(
        None if chosen is None else sorted(chosen)
    ):
        kept = [
            v
            for v in all_visits
            if (start is None or v.visited_at >= start) and (end is None or v.visited_at < end)
        ]
        people += 1
        visits += len(kept)
        where = grids.get(person.grid_id)
        lines += [CareLine(person, v, where) for v in kept] or [CareLine(person, None, where)]
    return CareLedger(lines, people, visits)


# -- 议事: one eligible household of a vote, one row -----------------------------------------


def votes_path(path: Path) -> Path:
    """Where a CSV ledger's 议事 goes: ``台账_议事.csv`` beside ``台账.csv``."""
    return path.with_name(f"{path.stem}_{VOTES_SHEET_TITLE}{path.suffix}")


def votes_filename(fmt: LedgerFormat, now: datetime, tz: ZoneInfo) -> str:
    """``议事_20261126_1030.csv``: the votes on their own."""
    return f"{VOTES_SHEET_TITLE}_{now.astimezone(tz):%Y%m%d_%H%M}.{fmt}"


@dataclass(frozen=True)
class VoteSheetLine:
    """One row of the 议事 sheet: a vote and one of its eligible households."""

    vote: LedgerVote
    household: VoteHousehold


def vote_rule_words(num: int, den: int, strict: bool, qnum: int | None, qden: int | None) -> str:
    """``过半`` / ``不少于2/3`` / ``超过2/3``, and ``，参与不少于1/2`` with a quorum."""
    if strict and (num, den) == (1, 2):
        words = "同意户数过半"
    else:
        words = f"同意户数{'超过' if strict else '不少于'}{num}/{den}"
    if qnum is not None:
        words += f"，参与户数不少于{qnum}/{qden}"
    return words


def vote_result_words(line: LedgerVote) -> str:
    """``通过（同意 5 / 参与 7 / 应参与 8 户）``; ``''`` while open."""
    result = line.vote.result
    if result is None:
        return ""
    if result.get("failed"):  # the poll never went out (bot.votes.poll_failed)
        return f"作废：投票未能发出（{result['failed']}）"
    verdict = "通过" if result.get("passed") else "未通过"
    if not result.get("passed") and result.get("quorum_met") is False:
        verdict += "（参与不足）"
    counts = "，".join(
        f"{option} {count}"
        for option, count in zip(line.vote.options, result.get("counts", []), strict=False)
    )
    return (
        f"{verdict}：{counts}；参与 {result.get('voted', 0)} 户 / 应参与 "
        f"{result.get('eligible', line.vote.eligible)} 户"
    )


def vote_values(row: VoteSheetLine, tz: ZoneInfo) -> list[LedgerValue]:
    """The row in VOTE_COLUMNS order; times in ``tz``."""
    line, household = row.vote, row.household
    vote = line.vote
    option = household.final_option
    said = vote.options[option] if option is not None and 0 <= option < len(vote.options) else ""
    return [
        vote.id,
        line.grid_name,
        line.community_name,
        vote.question,
        "|".join(vote.options),
        vote_rule_words(
            vote.rule_num, vote.rule_den, vote.rule_strict, vote.quorum_num, vote.quorum_den
        ),
        vote.scope or "全部",
        vote.started_by_name,
        vote.started_at.astimezone(tz),
        vote.deadline.astimezone(tz),
        VOTE_STATUS_NAMES.get(vote.status, vote.status),
        None if vote.closed_at is None else vote.closed_at.astimezone(tz),
        vote_result_words(line),
        household.label,
        said,
        household.final_name if option is not None else "",
        "是" if household.final_proxy else "",
        household.final_note,
        None if household.final_at is None else household.final_at.astimezone(tz),
    ]


@dataclass(frozen=True)
class VoteLedger:
    lines: list[VoteSheetLine]
    votes: int


async def read_votes(
    db: Database,
    *,
    grid_ids: Sequence[int] | None = None,
    grid: str | None = None,
    community: str | None = None,
    since: date | None = None,
    until: date | None = None,
    tz: ZoneInfo,
) -> VoteLedger:
    """The votes of the grids (as the tickets are filtered) started on the local days
    ``since``…``until`` (both inclusive), one line per eligible household."""
    chosen: set[int] | None = None if grid_ids is None else set(grid_ids)
    if grid is not None or community is not None:
        named = {
            g.id
            for g in await GridRepository(db).grids()
            if (grid is None or g.name == grid)
            and (community is None or g.community_name == community)
        }
        chosen = named if chosen is None else chosen & named
    if chosen is not None and not chosen:
        return VoteLedger([], 0)
    start, end = local_day_bounds(since, until, tz)
    lines: list[VoteSheetLine] = []
    votes = 0
    for found in await VoteRepository(db).ledger(None if chosen is None else sorted(chosen)):
        started = found.vote.started_at
        if (start is not None and started < start) or (end is not None and started >= end):
            continue
        votes += 1
        lines += [VoteSheetLine(found, household) for household in found.households]
    return VoteLedger(lines, votes)


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


Convert = Callable[[Any], list[LedgerValue]]


class _Sink(Protocol):
    """A ledger file being written; its methods run in a worker thread, one at a time.
    ``write`` takes rows of the current sheet, ``next_sheet`` moves to the next one."""

    rows: int

    def write(self, page: Sequence[Any]) -> None: ...

    def next_sheet(self) -> None: ...

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
    """The ledger as xlsx: rows go straight into the file through bot.xlsx's streaming writer,
    one sheet after the other (each with its own conversion)."""

    def __init__(
        self,
        target: _Target,
        sheets: Sequence[tuple[Sheet, Convert]],
        *,
        zip64: bool,
        created: datetime,
    ) -> None:
        self.rows = 0
        self._target = target
        self._converts = [convert for _, convert in sheets]
        self._convert = self._converts[0]
        self._pause = _GilBreaks()
        self._handle = target.open()
        first, *more = (sheet for sheet, _ in sheets)
        try:
            self._sheet = SheetWriter(
                self._handle,
                title=first.title,
                header=first.header,
                widths=first.widths,
                header_fill=_HEADER_FILL,
                link_column=first.link_column,
                created=created,
                zip64=zip64,
                more=more,
            )
        except BaseException:
            target.discard(self._handle)
            raise

    def write(self, page: Sequence[Any]) -> None:
        append, convert, pause = self._sheet.append, self._convert, self._pause
        for row in page:
            append(convert(row))
            pause()
        self.rows += len(page)

    def next_sheet(self) -> None:
        self._sheet.next_sheet()
        self._converts.pop(0)
        self._convert = self._converts[0]

    def finish(self) -> None:
        self._sheet.close()
        self._target.commit(self._handle)

    def discard(self) -> None:
        self._sheet.abort()
        self._target.discard(self._handle)


class _CsvSink:
    def __init__(
        self, target: _Target, convert: Convert, header: Sequence[str] = LEDGER_COLUMNS
    ) -> None:
        self.rows = 0
        self._target = target
        self._convert = convert
        self._pause = _GilBreaks()
        self._binary = target.open()
        # utf-8-sig writes the BOM Excel needs to read the file as UTF-8 (else Chinese breaks).
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._text)
        self._writer.writerow(header)

    def next_sheet(self) -> None:
        raise ValueError("a CSV holds one table")

    def write(self, page: Sequence[Any]) -> None:
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


@dataclass(frozen=True)
class Written:
    """What a ledger file holds: tickets, and (``care``) the people and visits of 关爱走访."""

    tickets: int = 0
    care: bool = False  # whether the 关爱走访 sheet (or file) was written
    people: int = 0
    visits: int = 0
    votes_written: bool = False  # whether the 议事 sheet (or file) was written
    votes: int = 0


async def export_ledger(
    storage_or_db: Storage | Database,
    fmt: LedgerFormat,
    target: Path | BinaryIO,
    *,
    catalog: CategoryCatalog,
    tz: ZoneInfo,
    now: datetime,
    what: LedgerPart = "tickets",
    empty_care: bool = True,
    empty_votes: bool = False,
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
) -> Written:
    """Write the ledger to ``target``: the tickets, the people and visits of 关爱走访
    (``what="care"``), or both as two sheets of one xlsx (``"all"``; CSV holds one table:
    write each part to its own file). The grids (``grid_ids``, ``grid``, ``community``) narrow
    both parts; ``since``/``until`` (local days in ``tz``, both inclusive) the tickets on their
    opening time and the visits on theirs. ``statuses``, ``category``, ``overdue`` (open past
    the resolution deadline at ``now``) and ``text`` (in the body or the address) narrow the
    tickets only, as the staff page's ticket table does. ``empty_care`` False: the 关爱走访
    sheet of ``"all"`` only when somebody of the grids is on the roster. 议事 (``"votes"``, or
    a sheet of ``"all"`` when the grids have votes — always with ``empty_votes``): one row per
    eligible household of each vote started in the days. A path target appears only once
    complete; a stream is written to and left open.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"unknown ledger format {fmt!r}")
    if what not in ("tickets", "care", "votes", "all"):
        raise ValueError(f"unknown ledger part {what!r}")
    if fmt == "csv" and what == "all":
        raise ValueError("a CSV holds one table: write the tickets and the care visits apart")
    db = storage_or_db.db if isinstance(storage_or_db, Storage) else storage_or_db
    care: CareLedger | None = None
    votes: VoteLedger | None = None
    if what in ("votes", "all"):
        votes = await read_votes(
            db,
            tz=tz,
            grid_ids=grid_ids,
            grid=grid,
            community=community,
            since=since,
            until=until,
        )
        if what == "all" and not empty_votes and not votes.votes:
            votes = None
    if what in ("care", "all"):
        care = await read_care(
            db,
            tz=tz,
            grid_ids=grid_ids,
            grid=grid,
            community=community,
            since=since,
            until=until,
        )
        if what == "all" and not empty_care and not care.people:
            care = None

    def convert_care(line: CareLine) -> list[LedgerValue]:
        return care_values(line, tz)

    def convert_vote(line: VoteSheetLine) -> list[LedgerValue]:
        return vote_values(line, tz)

    if what == "votes":
        assert votes is not None
        vote_sink: _Sink
        if fmt == "xlsx":
            vote_sink = await asyncio.to_thread(
                _XlsxSink, _Target(target), [(VOTES_SHEET, convert_vote)], zip64=False, created=now
            )
        else:
            vote_sink = await asyncio.to_thread(
                _CsvSink, _Target(target), convert_vote, VOTE_COLUMNS
            )
        await _pump(None, LedgerFilter(), vote_sink, batch, [votes.lines])
        logger.info("ledger: %d votes written as %s", votes.votes, fmt)
        return Written(votes_written=True, votes=votes.votes)

    if what == "care":
        assert care is not None
        sink: _Sink
        if fmt == "xlsx":
            sink = await asyncio.to_thread(
                _XlsxSink, _Target(target), [(CARE_SHEET, convert_care)], zip64=False, created=now
            )
        else:
            sink = await asyncio.to_thread(_CsvSink, _Target(target), convert_care, CARE_COLUMNS)
        await _pump(None, LedgerFilter(), sink, batch, [care.lines])
        logger.info(
            "ledger: care of %d people, %d visits written as %s", care.people, care.visits, fmt
        )
        return Written(0, True, care.people, care.visits)

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

    if fmt == "xlsx":
        expected = await ledger.count(where)
        # A link is text unless this ledger is small enough for real hyperlinks.
        first = (
            TICKETS_SHEET
            if expected <= hyperlink_max_rows
            else replace(TICKETS_SHEET, link_column=None)
        )
        sheets: list[tuple[Sheet, Convert]] = [(first, convert)]
        if care is not None:
            sheets.append((CARE_SHEET, convert_care))
        if votes is not None:
            sheets.append((VOTES_SHEET, convert_vote))
        sink = await asyncio.to_thread(
            _XlsxSink,
            _Target(target),
            sheets,
            zip64=expected >= ZIP64_MIN_ROWS,
            created=now,
        )
    else:
        sink = await asyncio.to_thread(_CsvSink, _Target(target), convert)
    extras: list[Sequence[Any]] = []
    if care is not None:
        extras.append(care.lines)
    if votes is not None:
        extras.append(votes.lines)
    tickets = await _pump(ledger, where, sink, batch, extras)
    logger.info("ledger: %d tickets written as %s", tickets, fmt)
    written = Written(tickets)
    if care is not None:
        logger.info("ledger: care of %d people, %d visits written too", care.people, care.visits)
        written = replace(written, care=True, people=care.people, visits=care.visits)
    if votes is not None:
        logger.info("ledger: %d votes written too", votes.votes)
        written = replace(written, votes_written=True, votes=votes.votes)
    return written


def _rows_of_tickets(export: Callable[_P, Awaitable[Written]]) -> Callable[_P, Awaitable[int]]:
    """``export`` answering how many ticket rows it wrote."""

    async def tickets(*args: _P.args, **kwargs: _P.kwargs) -> int:
        written = await export(*args, **kwargs)
        return written.tickets

    return tickets


write_ledger = _rows_of_tickets(export_ledger)
"""The ledger of the matching tickets (:func:`export_ledger`, whose ``what`` is "tickets"
unless told); returns how many rows it has."""


async def _pump(
    ledger: LedgerRepository | None,
    where: LedgerFilter,
    sink: _Sink,
    batch: int,
    extras: Sequence[Sequence[Any]] = (),
) -> int:
    """Read pages on the loop and write them in a worker thread, one page in flight at a time;
    then each of ``extras`` (already read: 关爱走访, 议事) on a sheet of its own. Returns the
    tickets written.

    At most two pages are in memory (the one being written and the one just read); the worker
    never holds the event loop, and the database lock is taken only per page.
    """
    writing: asyncio.Future[None] | None = None
    tickets = 0
    try:
        if ledger is not None:
            async with contextlib.aclosing(ledger.pages(where, batch=batch)) as pages:
                async for page in pages:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(sink.write, page))
                    tickets += len(page)
            if writing is not None:
                await writing
                writing = None
        for number, lines in enumerate(extras):
            if ledger is not None or number > 0:
                await asyncio.to_thread(sink.next_sheet)
            for start in range(0, len(lines), batch):
                await asyncio.to_thread(sink.write, lines[start : start + batch])
        await asyncio.to_thread(sink.finish)
    except BaseException:
        # A worker thread cannot be stopped: let its page finish before the file is removed.
        if writing is not None and not writing.done():
            await asyncio.wait([writing])
        await asyncio.to_thread(sink.discard)
        raise
    return tickets
