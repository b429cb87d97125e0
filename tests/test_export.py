"""The ledger (台账): storage.ledger, bot.export, `linlitong export`, bench.seed; real database."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import sqlite3
import subprocess
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import ALL_TEMP_FILES

import bot.export
import bot.xlsx
from bench.seed import seed
from bot.categories import CategoryCatalog
from bot.cli import main
from bot.export import (
    COLUMN_WIDTHS,
    CSV_DATETIME_FORMAT,
    LEDGER_COLUMNS,
    LINK_COLUMN,
    is_overdue,
    ledger_filename,
    ledger_values,
    local_day_bounds,
    write_ledger,
)
from bot.texts import Texts
from bot.xlsx import MAX_TEXT, SheetWriter, column_letter, excel_serial
from storage import NewTicket, Storage, Ticket
from storage.ledger import _FIELDS, _SELECT, LedgerFilter, LedgerRepository, LedgerRow

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")
CATALOG = CategoryCatalog.default()
SUPERGROUP = -1001234567890  # 测试社区 / 东区网格
BASIC_GROUP = -4321  # 测试社区 / 西区网格: basic groups have no message links
OTHER = -1009876543210  # 另一社区 / 东区网格: the same grid name in another community
PATROL_CHAT = 777  # an officer's private chat with the bot
SEEDED = 300
T = TypeVar("T")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    """A hand-made ticket and what its ledger row must say."""

    key: str
    chat_id: int
    created: datetime
    status: str
    overdue: str
    satisfaction: str = ""
    assignee: str = ""
    body: str = "北瑞小区3号楼2单元楼道灯不亮，联系电话13812345678"
    category: str = "repair"
    source: str = "chat"
    columns: dict[str, Any] = field(default_factory=dict)


CASES = (
    Case("new_fresh", SUPERGROUP, at("2026-11-25T02:00"), "待受理", "否"),
    # 16:30 UTC on the 20th is 00:30 on the 21st in Shanghai: the date filters must see the 21st.
    Case("new_late", SUPERGROUP, at("2026-11-20T16:30"), "待受理", "是"),
    Case(
        "accepted",
        BASIC_GROUP,
        at("2026-11-24T01:00"),
        "处理中",
        "否",
        assignee="网格员张伟",
        columns={"assignee_name": "网格员张伟", "accepted_at": at("2026-11-24T02:00")},
    ),
    Case(
        "resolved_on_time",
        OTHER,
        at("2026-11-22T00:00"),
        "已办结",
        "否",
        assignee="网格员李娜",
        columns={
            "assignee_name": "网格员李娜",
            "accepted_at": at("2026-11-22T01:00"),
            "resolved_at": at("2026-11-23T00:00"),
        },
    ),
    Case(
        "closed_late_satisfied",
        SUPERGROUP,
        at("2026-11-10T00:00"),
        "已关闭",
        "是",
        satisfaction="满意",
        columns={
            "accepted_at": at("2026-11-10T01:00"),
            "resolved_at": at("2026-11-14T00:00"),  # due on the 13th
            "closed_at": at("2026-11-15T00:00"),
            "satisfaction": "satisfied",
            "reopen_count": 1,
        },
    ),
    *(
        Case(
            f"closed_{rating}",
            SUPERGROUP,
            at(f"2026-11-1{day}T00:00"),
            "已关闭",
            "否",
            satisfaction=name,
            columns={
                "accepted_at": at(f"2026-11-1{day}T01:00"),
                "resolved_at": at(f"2026-11-1{day}T12:00"),
                "closed_at": at(f"2026-11-1{day + 1}T12:00"),
                "satisfaction": rating,
            },
        )
        for day, rating, name in (
            (1, "basic", "基本满意"),
            (2, "unsatisfied", "不满意"),
            (3, "unrated", "未评价"),
        )
    ),
    Case(
        "rejected_on_time",
        SUPERGROUP,
        at("2026-11-14T00:00"),
        "已退回",
        "否",
        columns={"accepted_at": at("2026-11-14T01:00"), "closed_at": at("2026-11-14T01:00")},
    ),
    Case(
        "rejected_late",
        SUPERGROUP,
        at("2026-11-15T00:00"),
        "已退回",
        "是",
        columns={"accepted_at": at("2026-11-19T00:00"), "closed_at": at("2026-11-19T00:00")},
    ),
    Case(
        "duplicate",
        SUPERGROUP,
        at("2026-11-16T00:00"),
        "重复",
        "否",
        columns={"accepted_at": at("2026-11-16T02:00"), "closed_at": at("2026-11-16T02:00")},
    ),
    Case(  # still open three days after its deadline
        "patrol",
        PATROL_CHAT,
        at("2026-11-17T00:00"),
        "处理中",
        "是",
        assignee="网格员张伟",
        source="patrol",
        columns={"assignee_name": "网格员张伟", "accepted_at": at("2026-11-17T00:00")},
    ),
    # Opened at 00:30 on the 26th, local time: outside ``--until 2026-11-25``.
    Case(
        "formula",
        SUPERGROUP,
        at("2026-11-25T16:30"),
        "待受理",
        "否",
        body="=1+1 电梯坏了\x07，请联系13812345678",
        category="elevator",  # a key no longer in the catalogue: shown as the key itself
    ),
)
STATUS_KEYS = {
    "待受理": "new",
    "处理中": "accepted",
    "已办结": "resolved",
    "已关闭": "closed",
    "已退回": "rejected",
    "重复": "duplicate",
}


@dataclass
class Ledgered:
    storage: Storage
    ids: dict[str, int]  # case key -> ticket id


async def _bind(storage: Storage, chat_id: int, grid: str, community: str) -> int:
    binding = await storage.grids.bind_grid(
        chat_id=chat_id,
        title=f"{community}{grid}",
        grid=grid,
        community=community,
        street="测试街道",
        by=1,
        now=NOW,
    )
    assert binding.grid_id is not None
    return binding.grid_id


async def _fill(storage: Storage, *, seeded: int = SEEDED) -> dict[str, int]:
    """``seeded`` tickets from bench.seed, then the hand-made CASES; returns the cases' ids."""
    await seed(storage, grids=10, tickets=seeded, seed=1, now=NOW)
    grids = {
        SUPERGROUP: await _bind(storage, SUPERGROUP, "东区网格", "测试社区"),
        BASIC_GROUP: await _bind(storage, BASIC_GROUP, "西区网格", "测试社区"),
        OTHER: await _bind(storage, OTHER, "东区网格", "另一社区"),
    }
    grids[PATROL_CHAT] = grids[SUPERGROUP]
    ids: dict[str, int] = {}
    for message_id, case in enumerate(CASES, 100):
        ticket, created = await storage.tickets.open(
            NewTicket(
                grid_id=grids[case.chat_id],
                chat_id=case.chat_id,
                message_id=message_id,
                category=case.category,
                text=f"#报修 {case.body}",
                body=case.body,
                reporter_id=42,
                reporter_name="王阿姨",
                created_at=case.created,
                response_due=case.created + timedelta(hours=2),
                resolution_due=case.created + timedelta(days=3),
                source=case.source,
                estate="北瑞小区",
                building="3",
                unit="2",
                room="502",
            )
        )
        assert created
        ids[case.key] = ticket.id
        columns = {"status": STATUS_KEYS[case.status], **case.columns}
        if case.key == "duplicate":
            columns["duplicate_of"] = ids["new_fresh"]
        values = [v.isoformat() if isinstance(v, datetime) else v for v in columns.values()]
        sets = ", ".join(f"{name} = ?" for name in columns)  # names from CASES, not input
        async with storage.db.transaction() as conn:
            await conn.execute(
                f"UPDATE tickets SET {sets} WHERE id = ?",  # noqa: S608
                (*values, ticket.id),
            )
    return ids


async def on_storage(path: Path, fill: Callable[[Storage], Awaitable[T]]) -> T:
    """The SQLite database at ``path``, opened, ``fill``ed and closed; what ``fill`` answered."""
    storage = await Storage.open(path)
    try:
        return await fill(storage)
    finally:
        await storage.close()


def cli_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fill: Callable[[Storage], Awaitable[T]]
) -> T:
    """``tmp_path / "cli.db"`` filled by ``fill``: the DATABASE_PATH of the CLI's commands."""
    db = tmp_path / "cli.db"
    filled = asyncio.run(on_storage(db, fill))
    monkeypatch.setenv("DATABASE_PATH", str(db))
    return filled


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The filled database, built once per module; each test works on its own copy."""
    path = tmp_path_factory.mktemp("ledger") / "template.db"
    return path, asyncio.run(on_storage(path, _fill))


@pytest.fixture
async def ledgered(
    tmp_path: Path, template: tuple[Path, dict[str, int]]
) -> AsyncIterator[Ledgered]:
    source, ids = template
    copy = tmp_path / "ledger.db"
    await asyncio.to_thread(shutil.copyfile, source, copy)  # closed cleanly: no WAL to copy
    storage = await Storage.open(copy)
    try:
        yield Ledgered(storage, ids)
    finally:
        await storage.close()


def case_created(key: str) -> datetime:
    return next(c.created for c in CASES if c.key == key)


def local(moment: datetime) -> datetime:
    """What an xlsx cell holds for a moment: the Shanghai wall-clock time, naive."""
    return moment.astimezone(TZ).replace(tzinfo=None)


async def all_ids(storage: Storage) -> list[int]:
    return [int(r[0]) for r in await storage.db.fetch_all("SELECT id FROM tickets ORDER BY id")]


async def export(storage: Storage, fmt: Any, target: Any, **filters: Any) -> int:
    return await write_ledger(storage, fmt, target, catalog=CATALOG, tz=TZ, now=NOW, **filters)


# -- the xlsx ---------------------------------------------------------------------------------


async def test_xlsx_is_what_an_office_opens(ledgered: Ledgered, tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    count = await export(ledgered.storage, "xlsx", path)
    ids = await all_ids(ledgered.storage)
    assert count == len(ids) == SEEDED + len(CASES)
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob(".*.part")))

    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
    ws = load_workbook(path).active
    assert ws.title == "台账"
    assert tuple(c.value for c in ws[1]) == LEDGER_COLUMNS
    assert all(c.font.b for c in ws[1])
    for header in ws[1]:  # white on dark blue, centred, underlined by a thin black border
        assert header.font.color.rgb == "FFFFFFFF"
        assert header.fill.fill_type == "solid" and header.fill.fgColor.rgb == "FF1F4E78"
        assert (header.alignment.horizontal, header.alignment.vertical) == ("center", "center")
        assert header.border.bottom.style == "thin"
        assert header.border.bottom.color.rgb == "FF000000"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:S{count + 1}"
    assert ws.print_title_rows == "$1:$1"  # the header on every printed page
    assert ws.page_setup.orientation == "landscape"
    assert ws.column_dimensions["E"].width == 50  # 内容
    assert ws.column_dimensions["K"].width >= 16  # 上报时间 fits "2026-11-26 10:00"
    widths = [ws.column_dimensions[get_column_letter(i)].width for i in range(1, 20)]
    assert widths == list(COLUMN_WIDTHS)
    assert ws.max_row == count + 1
    assert ws.max_column == len(LEDGER_COLUMNS)
    rows = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    assert list(rows) == ids  # one row per ticket, in id order

    for case in CASES:
        row = dict(zip(LEDGER_COLUMNS, rows[ledgered.ids[case.key]], strict=True))
        assert row["上报时间"].value == local(case.created)
        assert row["上报时间"].number_format == "yyyy-mm-dd hh:mm"
        assert isinstance(row["上报时间"].value, datetime) and row["上报时间"].value.tzinfo is None
        assert row["状态"].value == case.status
        assert row["是否超时"].value == case.overdue, case.key
        assert (row["满意度"].value or "") == case.satisfaction
        assert (row["处理人"].value or "") == case.assignee
        assert row["社区"].value == ("另一社区" if case.chat_id == OTHER else "测试社区")
        assert (row["楼栋"].value, row["单元"].value, row["房号"].value) == ("3", "2", "502")
        assert row["上报人"].value == "王阿姨"
        accepted = case.columns.get("accepted_at")
        assert row["受理时间"].value == (None if accepted is None else local(accepted))

    by_key = {
        key: dict(zip(LEDGER_COLUMNS, rows[ticket_id], strict=True))
        for key, ticket_id in ledgered.ids.items()
    }
    link = by_key["new_fresh"]["原消息链接"]
    assert link.value == "https://t.me/c/1234567890/100"
    assert link.hyperlink is not None and link.hyperlink.target == link.value
    assert link.font.u == "single" and link.style == "Hyperlink"
    # Every address is a link to itself, and only addresses are links.
    for row in rows.values():
        cell = row[LINK_COLUMN]
        assert (cell.hyperlink and cell.hyperlink.target) == cell.value
        assert all(other.hyperlink is None for other in row[:LINK_COLUMN])
    # 00:30 local time: minutes survive as the serial's fraction, under a format that shows them.
    late = by_key["new_late"]["上报时间"]
    assert late.value == datetime(2026, 11, 21, 0, 30)
    assert late.number_format == "yyyy-mm-dd hh:mm" and late.is_date
    assert by_key["new_late"]["工单号"].data_type == "n"
    assert by_key["resolved_on_time"]["原消息链接"].value == "https://t.me/c/9876543210/103"
    assert by_key["accepted"]["原消息链接"].value is None  # basic group
    assert by_key["patrol"]["原消息链接"].value is None
    # Unmasked and intact, a formula-looking body stays text and Excel's illegal \x07 is gone.
    assert by_key["new_fresh"]["内容"].value == "北瑞小区3号楼2单元楼道灯不亮，联系电话13812345678"
    formula = by_key["formula"]["内容"]
    assert formula.value == "=1+1 电梯坏了，请联系13812345678" and formula.data_type == "s"
    assert by_key["formula"]["类别"].value == "elevator"
    assert by_key["new_fresh"]["类别"].value == "报修"
    closed = by_key["closed_late_satisfied"]
    assert closed["办结时间"].value == datetime(2026, 11, 14, 8, 0)
    assert closed["重办次数"].value == 1


async def test_big_xlsx_links_are_text(ledgered: Ledgered) -> None:
    # Past hyperlink_max_rows the address is plain text (Excel caps a sheet at 65,530 links).
    buffer = io.BytesIO()
    count = await write_ledger(
        ledgered.storage,
        "xlsx",
        buffer,
        catalog=CATALOG,
        tz=TZ,
        now=NOW,
        grid="东区网格",
        community="测试社区",
        hyperlink_max_rows=3,
    )
    assert not buffer.closed
    ws = load_workbook(io.BytesIO(buffer.getvalue())).active
    links = [row[-1] for row in ws.iter_rows(min_row=2) if row[-1].value]
    assert len(links) == count - 1  # all but the patrol log
    assert all(c.hyperlink is None and c.value.startswith("https://t.me/c/") for c in links)
    assert all(c.font.u is None and c.style == "Normal" for c in links)  # not dressed as links
    with zipfile.ZipFile(buffer) as archive:
        assert "xl/worksheets/_rels/sheet1.xml.rels" not in archive.namelist()


# Text as residents write it, and what the cell must read back as.
TRICKY_TEXTS = (
    ("<b>\"水管\" & '电表'</b> a<b && c>d", None),  # markup and both quotes: escaped, then back
    ("电梯坏了😡👍🏽 🇨🇳", None),  # emoji outside the BMP, a skin tone, a flag
    ("\u200fمرحبا\u200e 3楼 \u202bRTL\u202c", None),  # right-to-left marks and embeddings
    ("a\x00b\x07c\x1bd\ufffee", "abcde"),  # characters XML cannot carry are dropped
    ("\x01\x02\x0b", ""),  # ... and when nothing is left, so is the cell
    ("=SUM(A1)", None),  # text, never a formula
    ("#N/A", None),  # text, never an error
    ("+86 138-1234-5678", None),
    ("第一行\r\n第二行\n\t缩进  ", None),  # line breaks, a tab and trailing spaces kept
    ("  ", None),
    ("啊" * (MAX_TEXT + 10), "啊" * MAX_TEXT),  # Excel's limit for a cell
)


async def test_xlsx_text_round_trips(ledgered: Ledgered) -> None:
    ids = (await all_ids(ledgered.storage))[: len(TRICKY_TEXTS)]
    async with ledgered.storage.db.transaction() as conn:
        for ticket_id, (body, _) in zip(ids, TRICKY_TEXTS, strict=True):
            await conn.execute("UPDATE tickets SET body = ? WHERE id = ?", (body, ticket_id))
    buffer = io.BytesIO()
    await export(ledgered.storage, "xlsx", buffer)
    ws = load_workbook(io.BytesIO(buffer.getvalue())).active
    bodies = {row[0].value: row[LEDGER_COLUMNS.index("内容")] for row in ws.iter_rows(min_row=2)}
    for ticket_id, (body, expected) in zip(ids, TRICKY_TEXTS, strict=True):
        cell = bodies[ticket_id]
        assert cell.value == (body if expected is None else expected or None), repr(body[:20])
        if cell.value is not None:
            assert cell.data_type == "s"


async def test_xlsx_of_no_tickets_is_the_header(ledgered: Ledgered, tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    assert await export(ledgered.storage, "xlsx", path, grid="没有这个网格") == 0
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert "xl/worksheets/_rels/sheet1.xml.rels" not in archive.namelist()
    ws = load_workbook(path).active
    assert ws.max_row == 1 and tuple(c.value for c in ws[1]) == LEDGER_COLUMNS
    assert ws.auto_filter.ref == "A1:S1" and ws.freeze_panes == "A2"


async def test_xlsx_package_is_well_formed(ledgered: Ledgered) -> None:
    first, second = io.BytesIO(), io.BytesIO()
    await export(ledgered.storage, "xlsx", first)
    await export(ledgered.storage, "xlsx", second)
    assert first.getvalue() == second.getvalue()  # the same tickets, the same bytes
    with zipfile.ZipFile(first) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names[0] == "[Content_Types].xml"  # where file sniffers look for it
        assert sorted(names) == sorted(
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "docProps/app.xml",
                "docProps/core.xml",
                "xl/_rels/workbook.xml.rels",
                "xl/styles.xml",
                "xl/workbook.xml",
                "xl/worksheets/_rels/sheet1.xml.rels",
                "xl/worksheets/sheet1.xml",
            ]
        )
        for name in names:  # every part parses as XML
            ElementTree.fromstring(archive.read(name))  # noqa: S314 (our own output)
        # A small ledger's sheet has no ZIP64 headers (version 2.0 is plain deflate).
        assert archive.getinfo("xl/worksheets/sheet1.xml").extract_version == 20
        workbook = archive.read("xl/workbook.xml").decode()
    count = len(await all_ids(ledgered.storage))
    assert f"'台账'!$A$1:$S${count + 1}</definedName>" in workbook  # the filter's range
    assert "'台账'!$1:$1</definedName>" in workbook  # the print titles
    wb = load_workbook(io.BytesIO(first.getvalue()))
    assert wb.properties.created == NOW.replace(tzinfo=None)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
async def test_libreoffice_reads_the_xlsx(ledgered: Ledgered, tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    count = await export(ledgered.storage, "xlsx", path)
    command = [
        "soffice",
        f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
        "--headless",
        "--convert-to",
        "csv:Text - txt - csv (StarCalc):44,34,76",  # comma, double quote, UTF-8
        "--outdir",
        str(tmp_path / "out"),
        str(path),
    ]
    await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True, timeout=110)
    text = (tmp_path / "out" / "ledger.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == LEDGER_COLUMNS and len(rows) == count + 1
    assert [int(r[0]) for r in rows[1:]] == await all_ids(ledgered.storage)


# -- the xlsx writer ----------------------------------------------------------------------------


def _sheet(
    rows: list[list[Any]], *, link_column: int | None = None, **options: Any
) -> tuple[bytes, Any]:
    """``rows`` written by SheetWriter under a three-column header; the bytes and the sheet."""
    buffer = io.BytesIO()
    writer = SheetWriter(
        buffer,
        title="表",
        header=["一", "二", "三"],
        widths=[10, 20, 30],
        header_fill="1F4E78",
        link_column=link_column,
        created=NOW,
        **options,
    )
    for row in rows:
        writer.append(row)
    writer.close()
    assert writer.rows == len(rows) and not buffer.closed
    return buffer.getvalue(), load_workbook(io.BytesIO(buffer.getvalue())).active


def test_sheet_writer_cell_types() -> None:
    moment = datetime(2026, 11, 26, 10, 7, 30, 250_000)
    _, ws = _sheet(
        [
            [True, 1.25, moment],
            [False, -7, moment.replace(tzinfo=ZoneInfo("America/New_York"))],
            [None, "", "\ud800 lone surrogate"],
            [2**40, 1e-3, datetime(1900, 3, 1)],
        ]
    )
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert values == [
        [True, 1.25, moment],  # to the millisecond, openpyxl's precision
        [False, -7, moment],  # an aware time is its wall clock
        [None, None, " lone surrogate"],
        [2**40, 1e-3, datetime(1900, 3, 1)],
    ]
    assert ws["C2"].number_format == "yyyy-mm-dd hh:mm"


def test_excel_serials_and_column_letters() -> None:
    assert excel_serial(datetime(1900, 3, 1)) == 61
    assert excel_serial(datetime(2026, 11, 26, 18, 0)) == 46352.75
    assert excel_serial(datetime(2026, 11, 26, 18, 0, tzinfo=TZ)) == 46352.75
    letters = {0: "A", 18: "S", 25: "Z", 26: "AA", 701: "ZZ", 702: "AAA", 16_383: "XFD"}
    assert {index: column_letter(index) for index in letters} == letters


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (datetime(1900, 2, 28), ValueError),  # Excel's serials are a day off before March 1900
        (date(2026, 11, 26), TypeError),
        (b"bytes", TypeError),
    ],
)
def test_sheet_writer_refuses_what_excel_cannot_hold(value: Any, error: type[Exception]) -> None:
    buffer = io.BytesIO()
    writer = SheetWriter(
        buffer, title="表", header=["一", "二"], widths=[8, 8], header_fill="000000"
    )
    writer.append(["first", 1])
    with pytest.raises(error):
        writer.append(["half", value])
    with pytest.raises(ValueError, match="zip"):  # one value per column
        writer.append(["short"])
    writer.append(["last", 3])  # the failed rows left nothing behind
    writer.close()
    ws = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert [[c.value for c in row] for row in ws.iter_rows()] == [
        ["一", "二"],
        ["first", 1],
        ["last", 3],
    ]


def test_sheet_writer_stops_linking_at_excels_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.xlsx, "MAX_HYPERLINKS", 2)
    urls = [f'https://t.me/c/1/{i}?a=1&b="2"' for i in range(4)]
    _, ws = _sheet([[str(i), None, url] for i, url in enumerate(urls)], link_column=2)
    cells = [row[2] for row in ws.iter_rows(min_row=2)]
    assert [c.value for c in cells] == urls
    assert [c.hyperlink.target if c.hyperlink else None for c in cells] == [*urls[:2], None, None]
    assert [c.font.u for c in cells] == ["single", "single", None, None]


def test_sheet_writer_zip64_and_abort() -> None:
    for zip64, version in ((True, 45), (False, 20)):
        data, ws = _sheet([["a", "b", "c"]], zip64=zip64)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.testzip() is None
            assert archive.getinfo("xl/worksheets/sheet1.xml").extract_version == version
        assert ws["C2"].value == "c"

    buffer = io.BytesIO()
    writer = SheetWriter(buffer, title="表", header=["一"], widths=[8], header_fill="000000")
    writer.append(["x"])
    writer.abort()
    writer.abort()  # twice is harmless
    assert not buffer.closed  # the caller's stream stays theirs

    with pytest.raises(ValueError, match="cannot name a sheet"):
        SheetWriter(buffer, title="a/b", header=["一"], widths=[8], header_fill="000000")
    with pytest.raises(ValueError, match="RRGGBB"):
        SheetWriter(buffer, title="表", header=["一"], widths=[8], header_fill="blue")
    assert not buffer.closed


# -- the CSV ----------------------------------------------------------------------------------


async def test_csv_round_trips_with_chinese(ledgered: Ledgered, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    count = await export(ledgered.storage, "csv", buffer)
    raw = buffer.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == LEDGER_COLUMNS
    assert len(rows) == count + 1
    assert [int(r[0]) for r in rows[1:]] == await all_ids(ledgered.storage)
    by_id = {int(r[0]): dict(zip(LEDGER_COLUMNS, r, strict=True)) for r in rows[1:]}
    late = by_id[ledgered.ids["new_late"]]
    assert late["上报时间"] == "2026-11-21 00:30"
    assert datetime.strptime(late["上报时间"], CSV_DATETIME_FORMAT) == local(
        case_created("new_late")
    )
    assert late["网格"] == "东区网格" and late["社区"] == "测试社区" and late["状态"] == "待受理"
    assert late["内容"] == "北瑞小区3号楼2单元楼道灯不亮，联系电话13812345678"
    assert (late["受理时间"], late["办结时间"], late["满意度"]) == ("", "", "")
    closed = by_id[ledgered.ids["closed_late_satisfied"]]
    assert (closed["办结时间"], closed["满意度"], closed["重办次数"]) == (
        "2026-11-14 08:00",
        "满意",
        "1",
    )
    # A leading "=" would be run as a formula by a spreadsheet: OWASP's quote keeps it text.
    assert by_id[ledgered.ids["formula"]]["内容"].startswith("'=1+1 电梯坏了")
    assert by_id[ledgered.ids["patrol"]]["原消息链接"] == ""

    path = tmp_path / "ledger.csv"
    assert await export(ledgered.storage, "csv", path) == count
    assert path.read_bytes() == raw


# -- one row ----------------------------------------------------------------------------------


def _row(**changes: Any) -> LedgerRow:
    base = LedgerRow(
        id=1,
        grid_name="东区网格",
        community_name="测试社区",
        category="charging",
        body="楼下飞线充电",
        estate=None,
        building=None,
        unit=None,
        room=None,
        reporter_name="李先生",
        created_at=at("2026-11-20T00:00"),
        status="new",
        assignee_name=None,
        accepted_at=None,
        resolved_at=None,
        closed_at=None,
        resolution_due=at("2026-11-21T00:00"),
        satisfaction=None,
        reopen_count=0,
        source="chat",
        chat_id=-4321,
        message_id=5,
    )
    return replace(base, **changes)


DUE = at("2026-11-21T00:00")


@pytest.mark.parametrize(
    ("changes", "now", "expected"),
    [
        ({"status": "new"}, DUE, False),  # at the deadline is not past it
        ({"status": "new"}, DUE + timedelta(seconds=1), True),
        ({"status": "accepted"}, DUE + timedelta(days=9), True),
        # an open ticket reopened after a late resolution is judged by now, not the old time
        ({"status": "accepted", "resolved_at": DUE + timedelta(days=1)}, DUE, False),
        (
            {"status": "resolved", "resolved_at": DUE - timedelta(hours=1)},
            DUE + timedelta(9),
            False,
        ),
        ({"status": "resolved", "resolved_at": DUE + timedelta(hours=1)}, DUE, True),
        ({"status": "closed", "resolved_at": DUE, "closed_at": DUE + timedelta(3)}, DUE, False),
        ({"status": "rejected", "closed_at": DUE - timedelta(hours=1)}, DUE + timedelta(9), False),
        ({"status": "rejected", "closed_at": DUE + timedelta(hours=1)}, DUE + timedelta(9), True),
        ({"status": "duplicate", "closed_at": DUE - timedelta(1)}, DUE + timedelta(9), False),
        ({"status": "duplicate", "closed_at": DUE + timedelta(1)}, DUE + timedelta(9), True),
        # closed without a recorded time: as of now
        ({"status": "rejected"}, DUE - timedelta(hours=1), False),
        ({"status": "rejected"}, DUE + timedelta(hours=1), True),
    ],
)
def test_is_overdue(changes: dict[str, Any], now: datetime, expected: bool) -> None:
    assert is_overdue(_row(**changes), now) is expected


def test_ledger_values_map_raw_values() -> None:
    row = _row(
        status="closed",
        satisfaction="basic",
        assignee_name="网格员张伟",
        accepted_at=at("2026-11-20T00:10"),
        resolved_at=at("2026-11-20T06:00"),
        closed_at=at("2026-11-21T06:00"),
        chat_id=-1001234567890,
        reopen_count=2,
    )
    values = ledger_values(row, catalog=CATALOG, tz=TZ, now=NOW)
    assert len(values) == len(LEDGER_COLUMNS)
    named = dict(zip(LEDGER_COLUMNS, values, strict=True))
    assert named["类别"] == "充电" and named["状态"] == "已关闭" and named["满意度"] == "基本满意"
    assert named["处理人"] == "网格员张伟" and named["重办次数"] == 2
    assert named["上报时间"] == datetime(2026, 11, 20, 8, 0, tzinfo=TZ)
    assert named["办结时间"] == datetime(2026, 11, 20, 14, 0, tzinfo=TZ)
    assert (named["小区"], named["楼栋"], named["单元"], named["房号"]) == ("", "", "", "")
    assert named["原消息链接"] == "https://t.me/c/1234567890/5"
    assert named["是否超时"] == "否"
    unknown = ledger_values(_row(satisfaction="unrated"), catalog=CATALOG, tz=TZ, now=NOW)
    assert dict(zip(LEDGER_COLUMNS, unknown, strict=True))["满意度"] == "未评价"


def test_local_days_become_utc_bounds() -> None:
    start, end = local_day_bounds(date(2026, 11, 21), date(2026, 11, 25), TZ)
    assert start == at("2026-11-20T16:00") and end == at("2026-11-25T16:00")
    assert local_day_bounds(None, None, TZ) == (None, None)


def test_ledger_filename_is_local() -> None:
    assert ledger_filename("xlsx", NOW, TZ) == "台账_20261126_1000.xlsx"


def test_the_select_reads_the_fields_in_order() -> None:
    columns = _SELECT.split("FROM")[0].removeprefix("\nSELECT").split(",")
    names = [c.split(" AS ")[-1].split(".")[-1].strip() for c in columns]
    assert tuple(names) == _FIELDS


# -- filters and paging -----------------------------------------------------------------------


async def _exported_ids(storage: Storage, **filters: Any) -> set[int]:
    buffer = io.BytesIO()
    await export(storage, "csv", buffer, **filters)
    rows = list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig"), newline="")))
    return {int(r[0]) for r in rows[1:]}


@pytest.mark.parametrize(
    ("filters", "keys"),
    [
        ({"community": "另一社区"}, {"resolved_on_time"}),
        ({"grid": "东区网格", "community": "另一社区"}, {"resolved_on_time"}),
        ({"grid": "西区网格"}, {"accepted"}),
        # a grid name alone matches that name in every community
        ({"grid": "东区网格"}, {c.key for c in CASES} - {"accepted"}),
        (
            {"community": "测试社区", "since": date(2026, 11, 21), "until": date(2026, 11, 25)},
            {"new_fresh", "new_late", "accepted"},
        ),
        (
            {"community": "测试社区", "since": date(2026, 11, 21), "until": date(2026, 11, 21)},
            {"new_late"},
        ),
        ({"community": "测试社区", "since": date(2026, 11, 26)}, {"formula"}),
        ({"community": "测试社区", "until": date(2026, 11, 10)}, {"closed_late_satisfied"}),
        ({"grid": "没有这个网格"}, set()),
    ],
)
async def test_filters_select_exactly(
    ledgered: Ledgered, filters: dict[str, Any], keys: set[str]
) -> None:
    assert await _exported_ids(ledgered.storage, **filters) == {ledgered.ids[k] for k in keys}


async def test_grid_ids_are_a_supervisors_scope(ledgered: Ledgered) -> None:
    rows = await ledgered.storage.db.fetch_all(
        "SELECT g.id FROM grids g JOIN communities m ON m.id = g.community_id WHERE m.name = ?",
        ("测试社区",),
    )
    scope = [int(r[0]) for r in rows]
    expected = {ledgered.ids[c.key] for c in CASES if c.chat_id != OTHER}
    assert await _exported_ids(ledgered.storage, grid_ids=scope) == expected
    narrowed = await _exported_ids(ledgered.storage, grid_ids=scope, grid="西区网格")
    assert narrowed == {ledgered.ids["accepted"]}
    assert await _exported_ids(ledgered.storage, grid_ids=[]) == set()  # no grid, no rows


async def test_date_filters_over_the_seeded_year(ledgered: Ledgered) -> None:
    since, until = date(2026, 3, 1), date(2026, 3, 31)
    rows = await ledgered.storage.db.fetch_all("SELECT id, created_at FROM tickets")
    expected = {
        int(r[0])
        for r in rows
        if since <= datetime.fromisoformat(r[1]).astimezone(TZ).date() <= until
    }
    assert 5 < len(expected) < SEEDED
    assert await _exported_ids(ledgered.storage, since=since, until=until) == expected


async def test_rows_stream_page_by_page(ledgered: Ledgered) -> None:
    ledger = LedgerRepository(ledgered.storage.db)
    ids = await all_ids(ledgered.storage)
    paged = ledger.rows(grid=None, community=None, since_utc=None, until_utc=None, batch=7)
    assert [r.id async for r in paged] == ids
    sizes = [len(page) async for page in ledger.pages(LedgerFilter(), batch=50)]
    assert max(sizes) <= 50 and sum(sizes) == len(ids)
    since, until = local_day_bounds(date(2026, 11, 21), None, TZ)
    where = LedgerFilter(community="测试社区", since_utc=since, until_utc=until)
    assert await ledger.count(where) == 4
    first = [r async for r in ledger.rows(community="测试社区", since_utc=since, until_utc=until)]
    keys = ("new_fresh", "new_late", "accepted", "formula")
    assert {r.id for r in first} == {ledgered.ids[k] for k in keys}
    assert all(r.created_at.tzinfo is not None for r in first)


async def test_a_failed_export_leaves_no_file(
    ledgered: Ledgered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real = bot.export.ledger_values

    def failing(row: LedgerRow, **kwargs: Any) -> list[Any]:
        nonlocal calls
        calls += 1
        if calls > 100:
            raise RuntimeError("disk on fire")
        return real(row, **kwargs)

    monkeypatch.setattr(bot.export, "ledger_values", failing)
    temp_files = list(ALL_TEMP_FILES)
    for fmt in ("xlsx", "csv"):
        calls = 0
        with pytest.raises(RuntimeError, match="disk on fire"):
            await export(ledgered.storage, fmt, tmp_path / f"ledger.{fmt}", batch=40)
        calls = 0
        buffer = io.BytesIO()
        with pytest.raises(RuntimeError, match="disk on fire"):
            await export(ledgered.storage, fmt, buffer, batch=40)
        assert not buffer.closed  # a caller's stream is left open, even on failure
    assert temp_files == ALL_TEMP_FILES  # no temporary file of openpyxl's either
    left = await asyncio.to_thread(lambda: [p.name for p in tmp_path.iterdir()])
    assert not [name for name in left if name.endswith((".xlsx", ".csv", ".part"))]


async def test_export_does_not_block_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = await Storage.open(tmp_path / "big.db")
    converted_in: set[str] = set()  # the threads that turned rows into ledger values
    real = bot.export.ledger_values

    def recording(row: Any, **kwargs: Any) -> Any:
        converted_in.add(threading.current_thread().name)
        return real(row, **kwargs)

    monkeypatch.setattr(bot.export, "ledger_values", recording)
    try:
        await seed(storage, grids=5, tickets=5000, seed=2, now=NOW)
        gaps: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            # Gaps in this process's CPU time: a worker thread keeping the loop from the GIL
            # shows; the machine being busy with other processes does not.
            last = time.process_time()
            while not done.is_set():
                await asyncio.sleep(0.01)
                gaps.append(time.process_time() - last)
                last = time.process_time()

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)  # the ticker starts
        count = await export(storage, "xlsx", tmp_path / "big.xlsx")
        done.set()
        await ticker
    finally:
        await storage.close()
    assert count == 5000
    assert converted_in and threading.current_thread().name not in converted_in
    assert gaps and max(gaps) < 0.5


# -- the seed ---------------------------------------------------------------------------------


async def test_seeded_tickets_are_valid_and_consistent(ledgered: Ledgered) -> None:
    storage = ledgered.storage
    rows = await storage.db.fetch_all("SELECT * FROM tickets WHERE reporter_id IS NOT 42")
    tickets = [Ticket.from_row(r) for r in rows]
    assert len(tickets) == SEEDED
    assert {t.status for t in tickets} >= {"new", "accepted", "closed", "rejected"}
    for t in tickets:
        assert t.created_at <= NOW and t.resolution_due > t.created_at
        times = [t.created_at, t.accepted_at, t.resolved_at]
        assert [x for x in times if x is not None] == sorted(x for x in times if x is not None)
        assert (t.accepted_at is None) == (t.status == "new")
        assert (t.resolved_at is not None) == (t.status in ("resolved", "closed"))
        assert (t.satisfaction is not None) == (t.status == "closed")
        assert all(x is None or x <= NOW for x in (t.accepted_at, t.resolved_at, t.closed_at))
        assert t.source == "patrol" or t.chat_id < -1_000_000_000_000
    assert await storage.db.integrity_check() == []


# -- the CLI ----------------------------------------------------------------------------------


async def _fill_for_cli(storage: Storage) -> int:
    """A smaller ledger: the tickets it has."""
    await _fill(storage, seeded=40)
    return int(await storage.db.fetch_value("SELECT COUNT(*) FROM tickets"))


def test_cli_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    total = cli_database(tmp_path, monkeypatch, _fill_for_cli)

    out = tmp_path / "台账.xlsx"  # the folder exists: --output never creates one
    assert main(["export", "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip() == Texts("zh")("cli.exported", count=total, path=out)
    ws = load_workbook(out).active
    assert ws.max_row == total + 1 and tuple(c.value for c in ws[1]) == LEDGER_COLUMNS

    text = tmp_path / "ledger.txt"
    args = ["--community", "测试社区", "--since", "2026-11-21", "--until", "2026-11-25"]
    assert main(["export", "--format", "csv", "--output", str(text), *args]) == 0
    assert "已把 3 个工单写入" in capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(text.read_text(encoding="utf-8-sig"), newline="")))
    assert len(rows) == 4 and {r[2] for r in rows[1:]} == {"测试社区"}

    assert main(["export", "--output", str(tmp_path / "x.csv"), "--grid", "无"]) == 0
    assert "没有符合筛选条件的工单" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "l.xlsx", "--since", "2026-13-01"], "--since 2026-13-01 不是日期"),
        (["--output", "l.xlsx", "--until", "yesterday"], "--until yesterday 不是日期"),
        (["--output", "l.xlsx", "--since", "2026-11-25", "--until", "2026-11-01"], "晚于 --until"),
        (["--output", "l.pdf"], "--format xlsx|csv"),
    ],
)
def test_cli_export_rejects_bad_input(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "none.db"))
    monkeypatch.chdir(tmp_path)
    assert main(["export", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    assert not list(tmp_path.iterdir())


def test_sqlite_sees_the_schema_the_ledger_reads(tmp_path: Path) -> None:
    # NOT INDEXED keeps paging on the rowid whatever the filters; check the plan says so.
    asyncio.run(on_storage(tmp_path / "plan.db", _fill_for_cli))
    with sqlite3.connect(tmp_path / "plan.db") as conn:
        extra, params = LedgerFilter(
            grid="东区网格", community="测试社区", since_utc=NOW, until_utc=NOW
        ).sql()
        plan = conn.execute("EXPLAIN QUERY PLAN " + _SELECT + extra, (0, 1, *params)).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "INTEGER PRIMARY KEY" in details and "tickets_created" not in details
