"""A streaming xlsx writer: worksheets of rows, written straight into the zip as they come.

openpyxl builds, styles and serialises an object per cell: the ledger's 1.9 million cells took
half a minute. This writer formats each row as one string of SpreadsheetML and streams it,
deflated, into ``xl/worksheets/sheet1.xml``, so memory stays flat whatever the row count and
a 100,000-row ledger takes a couple of seconds on top of reading it. A workbook may have more
sheets, declared when it is opened (``more``) and written one after the other (``next_sheet``).

It writes exactly one kind of sheet: a frozen, styled header row repeated on every printed
page, then data rows under an auto-filter, with fixed column widths and landscape pages.
Cells hold text (as inline strings, so text is never taken for a formula or an error code),
numbers, booleans and date-times (shown as ``DATETIME_FORMAT``); ``None`` and ``""`` leave
the cell out. One column may carry clickable hyperlinks.

Only one zip entry can be open for writing at a time, so every part that does not depend on
the rows is written before the first sheet is opened (which is why every sheet is declared at
the start: ``[Content_Types].xml`` names them), and the parts that do (the workbook's filter
ranges, the hyperlinks' relationships) after each sheet or the last is closed.
"""

from __future__ import annotations

import contextlib
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, BinaryIO, Final
from xml.sax.saxutils import escape

CellValue = str | int | float | datetime | None

DATETIME_FORMAT: Final = "yyyy-mm-dd hh:mm"
# Deflate level. The 100,000-row ledger's sheet is 130 MB of XML (~1.3 s to format); deflating
# it at level 1 takes 0.8 s for 17.4 MB, 4 0.9 s for 14.9 MB, 5 1.2 s for 13.9 MB, 6 1.6 s for
# 13.8 MB and 9 6 s for 13.0 MB.
COMPRESSLEVEL: Final = 5
# Excel's limits: characters in a cell, hyperlinks on a sheet.
MAX_TEXT: Final = 32_767
MAX_HYPERLINKS: Final = 65_530
# Characters an XML 1.0 document cannot hold (Excel refuses the file): C0 controls other than
# tab, newline and carriage return - openpyxl's ILLEGAL_CHARACTERS_RE - plus lone surrogates
# and the two non-characters U+FFFE and U+FFFF.
ILLEGAL_CHARACTERS_RE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Anything that makes a text need more than copying: illegal characters, markup, a carriage
# return (an XML parser would read a bare one as a newline).
_NEEDS_CARE = re.compile("[\x00-\x08\x0b-\x1f&<>\ud800-\udfff\ufffe\uffff]")
_TEXT_ENTITIES: Final = {"\r": "&#13;"}  # & < > are escape()'s own
_ATTR_ENTITIES: Final = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
# Excel counts days from 1899-12-30 (so that its phantom 1900-02-29 comes out right).
_EPOCH_ORDINAL: Final = date(1899, 12, 30).toordinal()
_FIRST_SERIAL: Final = 61  # 1900-03-01; Excel's serials before it are off by a day
# Rows are joined and deflated this many at a time: few large writes, little memory.
_FLUSH_ROWS: Final = 500
# What a sheet's name may not hold (Excel refuses it).
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")

# Cell formats (cellXfs) in _STYLES, by index.
_HEADER_STYLE: Final = 1
_DATETIME_STYLE: Final = 2
_LINK_STYLE: Final = 3

_XML: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_HYPERLINK_REL: Final = f"{_REL_NS}/hyperlink"

_CONTENT_TYPES: Final = (
    _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}"
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
    'package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.extended-properties+xml"/>'
    "</Types>"
)
_SHEET_TYPE: Final = (
    '<Override PartName="/xl/worksheets/sheet{number}.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS: Final = (
    _XML + f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL_NS}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP: Final = (
    _XML + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'extended-properties"><Application>LinliTong</Application></Properties>'
)
_CORE: Final = (
    _XML + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
    'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<dc:title>{title}</dc:title><dc:creator>LinliTong</dc:creator>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
    "</cp:coreProperties>"
)
# The sheets are rId1…rIdN, the styles the one after.
_WORKBOOK_RELS: Final = (
    _XML + f'<Relationships xmlns="{_PKG_REL_NS}">'
    "{sheets}"
    f'<Relationship Id="rId{{styles}}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_SHEET_REL: Final = (
    f'<Relationship Id="rId{{number}}" Type="{_REL_NS}/worksheet" '
    'Target="worksheets/sheet{number}.xml"/>'
)
# No theme part, so every colour is an explicit ARGB: the hyperlink font is Office's link blue
# where openpyxl's "Hyperlink" style points at the theme's.
_STYLES: Final = (
    _XML + f'<styleSheet xmlns="{_MAIN_NS}">'
    f'<numFmts count="1"><numFmt numFmtId="164" formatCode="{DATETIME_FORMAT}"/></numFmts>'
    '<fonts count="3">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><color rgb="FFFFFFFF"/><name val="Calibri"/><family val="2"/></font>'
    '<font><u/><sz val="11"/><color rgb="FF0563C1"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="3">'
    '<fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'  # Excel expects these two first
    '<fill><patternFill patternType="solid"><fgColor rgb="{header_fill}"/>'
    '<bgColor indexed="64"/></patternFill></fill>'
    "</fills>"
    '<borders count="2">'
    "<border><left/><right/><top/><bottom/><diagonal/></border>"
    '<border><left/><right/><top/><bottom style="thin"><color rgb="FF000000"/></bottom>'
    "<diagonal/></border>"
    "</borders>"
    '<cellStyleXfs count="2">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" applyNumberFormat="0" '
    'applyFill="0" applyBorder="0" applyAlignment="0" applyProtection="0"/>'
    "</cellStyleXfs>"
    '<cellXfs count="4">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" '
    'applyFill="1" applyBorder="1" applyAlignment="1">'
    '<alignment horizontal="center" vertical="center"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="1" applyFont="1"/>'
    "</cellXfs>"
    '<cellStyles count="2"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    '<cellStyle name="Hyperlink" xfId="1" builtinId="8"/></cellStyles>'
    '<dxfs count="0"/><tableStyles count="0"/>'
    "</styleSheet>"
)
_WORKBOOK: Final = (
    _XML + f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
    '<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews>'
    "<sheets>{sheets}</sheets><definedNames>{names}</definedNames>"
    '<calcPr calcId="191029"/>'
    "</workbook>"
)
_WORKBOOK_SHEET: Final = '<sheet name="{title}" sheetId="{number}" r:id="rId{number}"/>'
# Each sheet's auto-filter range and its header repeated on every printed page (Excel lists
# them by name, then sheet).
_FILTER_NAME: Final = (
    '<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1">{filter}'
    "</definedName>"
)
_TITLES_NAME: Final = (
    '<definedName name="_xlnm.Print_Titles" localSheetId="{index}">{titles}</definedName>'
)

# The worksheet up to the first data row: sheetViews (the header frozen), cols, <sheetData>.
# Its elements must come in the schema's order; <dimension> is left out, since it would come
# before the rows are known.
_SHEET_START: Final = (
    _XML + f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
    '<sheetViews><sheetView{selected} workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
    "</sheetView></sheetViews>"
    "<cols>{cols}</cols><sheetData>"
)
# ... then autoFilter, hyperlinks, pageMargins, pageSetup: again in the schema's order.
_SHEET_END: Final = (
    '</sheetData><autoFilter ref="A1:{last}"/>{hyperlinks}'
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    '<pageSetup orientation="landscape"/></worksheet>'
)

_TEXT_CELL: Final = '" t="inlineStr"><is><t xml:space="preserve">'
_LINK_CELL: Final = f'" s="{_LINK_STYLE}"{_TEXT_CELL[1:]}'
_TEXT_END: Final = "</t></is></c>"
_NUMBER_CELL: Final = '"><v>'
_DATETIME_CELL: Final = f'" s="{_DATETIME_STYLE}"><v>'
_VALUE_END: Final = "</v></c>"


@dataclass(frozen=True)
class Sheet:
    """A sheet of a workbook: its tab's title, header, column widths (Excel character units)
    and the column, if any, whose texts are clickable links."""

    title: str
    header: Sequence[str]
    widths: Sequence[float]
    link_column: int | None = None


def column_letter(index: int) -> str:
    """``A`` for 0, ``Z`` for 25, ``AA`` for 26: a column's name in A1 references."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def clean_text(text: str) -> str:
    """What of ``text`` a cell can hold: no illegal characters, at most MAX_TEXT of them."""
    if ILLEGAL_CHARACTERS_RE.search(text) is not None:
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text[:MAX_TEXT]


def _text_xml(text: str) -> str:
    """``text`` as the content of a ``<t>``: cleaned and escaped ("" when nothing is left)."""
    return escape(clean_text(text), _TEXT_ENTITIES)


def _attribute(text: str) -> str:
    return escape(clean_text(text), _ATTR_ENTITIES)


def excel_serial(moment: datetime) -> float:
    """The wall-clock time of ``moment`` as Excel's serial: days since 1899-12-30.

    Excel has no time zones, so an aware time counts as its local reading. Built from the
    fields rather than by subtracting datetimes: ``replace(tzinfo=None)`` costs twice as much.
    """
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
    serial = moment.toordinal() - _EPOCH_ORDINAL + (seconds + moment.microsecond / 1e6) / 86400
    if serial < _FIRST_SERIAL:
        raise ValueError(f"xlsx: {moment} is before 1900-03-01")
    return serial


class SheetWriter:
    """An xlsx file, written row by row into ``handle``, which is left open.

    The first sheet is ``title``/``header``/``widths``/``link_column``; ``more`` declares the
    sheets after it, each begun by ``next_sheet`` (a declared sheet never begun is written with
    its header alone). ``append`` formats a row of the current sheet and keeps it until a batch
    is ready; ``close`` writes the rest and completes the file; ``abort`` gives up, leaving a
    broken zip in ``handle``. None may run concurrently with another. A sheet's
    ``link_column``, when given, makes that column's texts clickable (at most MAX_HYPERLINKS of
    them; later ones stay plain text). ``zip64`` lets each sheet's part grow past 2 GiB, at the
    price of ZIP64 headers that readers know less well. ``rows``: the current sheet's rows.
    """

    def __init__(
        self,
        handle: BinaryIO,
        *,
        title: str,
        header: Sequence[str],
        widths: Sequence[float],
        header_fill: str,
        link_column: int | None = None,
        created: datetime | None = None,
        zip64: bool = True,
        compresslevel: int = COMPRESSLEVEL,
        more: Sequence[Sheet] = (),
    ) -> None:
        self._sheets = (Sheet(title, header, widths, link_column), *more)
        seen: set[str] = set()
        for sheet in self._sheets:
            if len(sheet.widths) != len(sheet.header):
                raise ValueError("xlsx: one width per column")
            if not 0 < len(sheet.title) <= 31 or _BAD_TITLE.search(sheet.title):
                raise ValueError(f"xlsx: {sheet.title!r} cannot name a sheet")
            if sheet.title.casefold() in seen:  # Excel compares them ignoring case
                raise ValueError(f"xlsx: two sheets are called {sheet.title!r}")
            seen.add(sheet.title.casefold())
        self.rows = 0
        self._index = -1  # the sheet being written
        self._ends: list[str] = []  # each finished sheet's bottom-right cell
        self._letters: tuple[str, ...] = ()
        self._link_column: int | None = None  # None once MAX_HYPERLINKS is reached
        self._link_letter = ""
        self._prefixes: tuple[str, ...] = ()
        self._text_cells: tuple[str, ...] = ()
        self._links: list[tuple[int, str]] = []  # (row, escaped target): a few thousand
        self._pending: list[str] = []
        self._sheet: IO[bytes] | None = None
        self._level = compresslevel
        self._zip64 = zip64
        self._zip = zipfile.ZipFile(
            handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )
        try:
            self._start(header_fill, created or datetime.now(UTC))
            self._open_sheet(0)
        except BaseException:
            self.abort()
            raise

    def _start(self, fill: str, created: datetime) -> None:
        stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        write = self._put
        numbers = range(1, len(self._sheets) + 1)
        write(
            "[Content_Types].xml",
            _CONTENT_TYPES.format(sheets="".join(_SHEET_TYPE.format(number=n) for n in numbers)),
        )
        write("_rels/.rels", _ROOT_RELS)
        write("docProps/app.xml", _APP)
        title = _text_xml(self._sheets[0].title)
        write("docProps/core.xml", _CORE.format(title=title, created=stamp))
        write("xl/styles.xml", _STYLES.replace("{header_fill}", _argb(fill)))

    def _open_sheet(self, index: int) -> None:
        """Begin sheet ``index``: its part, its columns and its header row."""
        sheet = self._sheets[index]
        self._index = index
        self.rows = 0
        self._letters = tuple(column_letter(i) for i in range(len(sheet.header)))
        self._link_column = sheet.link_column
        self._link_letter = "" if sheet.link_column is None else self._letters[sheet.link_column]
        # Each column's reference prefix and how its text cells go on: a cell is then one
        # f-string of prefix, row number, middle, value and end.
        self._prefixes = tuple(f'<c r="{letter}' for letter in self._letters)
        self._text_cells = tuple(
            _LINK_CELL if i == sheet.link_column else _TEXT_CELL for i in range(len(sheet.header))
        )
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{width:g}" customWidth="1"/>'
            for i, width in enumerate(sheet.widths, 1)
        )
        head = "".join(
            f'<c r="{letter}1" s="{_HEADER_STYLE}"{_TEXT_CELL[1:]}{_text_xml(name)}{_TEXT_END}'
            for letter, name in zip(self._letters, sheet.header, strict=True)
        )
        part = f"xl/worksheets/sheet{index + 1}.xml"
        self._sheet = self._zip.open(part, "w", force_zip64=self._zip64)
        selected = ' tabSelected="1"' if index == 0 else ""
        start = _SHEET_START.format(cols=cols, selected=selected)
        self._sheet.write(f'{start}<row r="1">{head}</row>'.encode())

    def _put(self, name: str, text: str) -> None:
        # Dated like the sheet's entry, which zipfile streams with the zip epoch as its time:
        # the same rows give the same bytes (the workbook's own time is in docProps/core.xml).
        entry = zipfile.ZipInfo(name)
        self._zip.writestr(entry, text, zipfile.ZIP_DEFLATED, self._level)

    def append(self, values: Sequence[CellValue]) -> None:
        """Add a row, one value per column; this runs for every row, so plain text and whole
        numbers are handled inline and everything else by ``_other``."""
        number = self.rows + 2  # the header is row 1
        row = str(number)
        cells = self._pending
        mark = len(cells)
        try:
            cells.append(f'<row r="{row}">')
            for prefix, text_cell, value in zip(
                self._prefixes, self._text_cells, values, strict=True
            ):
                if type(value) is str:
                    if not value:
                        continue  # no cell at all, rather than an empty one
                    if len(value) > MAX_TEXT or _NEEDS_CARE.search(value) is not None:
                        value = _text_xml(value)
                        if not value:
                            continue
                    cells.append(f"{prefix}{row}{text_cell}{value}{_TEXT_END}")
                elif value is None:
                    continue
                elif type(value) is int:
                    cells.append(f"{prefix}{row}{_NUMBER_CELL}{value}{_VALUE_END}")
                elif type(value) is datetime:
                    serial = excel_serial(value)
                    cells.append(f"{prefix}{row}{_DATETIME_CELL}{serial!r}{_VALUE_END}")
                else:
                    cells.append(_other(prefix + row, text_cell, value))
            cells.append("</row>")
        except BaseException:
            del cells[mark:]  # a value it cannot write: the row is left out, not half-written
            raise
        self.rows += 1
        if self._link_column is not None:
            self._link(number, values[self._link_column])
        if self.rows % _FLUSH_ROWS == 0:
            self._flush()

    def _link(self, row: int, url: CellValue) -> None:
        if not isinstance(url, str) or not (target := _attribute(url)):
            return
        self._links.append((row, target))
        if len(self._links) >= MAX_HYPERLINKS:  # Excel's limit: the rest stay plain text
            self._link_column = None
            self._text_cells = tuple(_TEXT_CELL for _ in self._text_cells)

    def _flush(self) -> None:
        if self._pending:
            assert self._sheet is not None, "xlsx: the sheet is closed"
            self._sheet.write("".join(self._pending).encode())
            self._pending.clear()

    def next_sheet(self) -> None:
        """Complete the current sheet and begin the next one declared in ``more``."""
        if self._index + 1 >= len(self._sheets):
            raise ValueError("xlsx: no other sheet was declared")
        self._end_sheet()
        self._open_sheet(self._index + 1)

    def _end_sheet(self) -> None:
        """Write the rest of the current sheet and its hyperlinks' relationships."""
        self._flush()
        assert self._sheet is not None, "xlsx: the sheet is closed"
        last = f"{self._letters[-1]}{self.rows + 1}"
        links = "".join(
            f'<hyperlink ref="{self._link_letter}{row}" r:id="rId{i}"/>'
            for i, (row, _) in enumerate(self._links, 1)
        )
        hyperlinks = f"<hyperlinks>{links}</hyperlinks>" if links else ""
        self._sheet.write(_SHEET_END.format(last=last, hyperlinks=hyperlinks).encode())
        self._sheet.close()
        self._sheet = None
        if self._links:
            self._put(f"xl/worksheets/_rels/sheet{self._index + 1}.xml.rels", self._link_rels())
        self._links.clear()
        self._ends.append(last)

    def close(self) -> None:
        """Write the rest of the sheets and the parts that depend on them; the file is
        complete."""
        self._end_sheet()
        while self._index + 1 < len(self._sheets):  # declared, never begun: the header alone
            self._open_sheet(self._index + 1)
            self._end_sheet()
        sheets, filters, titles = [], [], []
        for index, (sheet, last) in enumerate(zip(self._sheets, self._ends, strict=True)):
            quoted = "'" + sheet.title.replace("'", "''") + "'"
            top_left, bottom_right = "$A$1", "$" + "$".join(_split(last))
            sheets.append(_WORKBOOK_SHEET.format(title=_attribute(sheet.title), number=index + 1))
            area = _text_xml(f"{quoted}!{top_left}:{bottom_right}")
            filters.append(_FILTER_NAME.format(index=index, filter=area))
            titles.append(_TITLES_NAME.format(index=index, titles=_text_xml(f"{quoted}!$1:$1")))
        names = "".join(filters + titles)
        self._put("xl/workbook.xml", _WORKBOOK.format(sheets="".join(sheets), names=names))
        count = len(self._sheets)
        rels = "".join(_SHEET_REL.format(number=n) for n in range(1, count + 1))
        self._put(
            "xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(sheets=rels, styles=count + 1)
        )
        self._zip.close()

    def _link_rels(self) -> str:
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_HYPERLINK_REL}" Target="{target}" '
            'TargetMode="External"/>'
            for i, (_, target) in enumerate(self._links, 1)
        )
        return f'{_XML}<Relationships xmlns="{_PKG_REL_NS}">{rels}</Relationships>'

    def abort(self) -> None:
        """Close what is open and drop what is kept; never raises (it runs after a failure)."""
        self._pending.clear()
        self._links.clear()
        # Finishing the part and the zip still writes to ``handle``; whatever fails, the file
        # is being thrown away, and the error that got us here is the one worth reporting.
        if self._sheet is not None:
            with contextlib.suppress(Exception):
                self._sheet.close()
            self._sheet = None
        with contextlib.suppress(Exception):
            self._zip.close()


def _other(reference: str, text_cell: str, value: object) -> str:
    """The cell for a value ``append`` does not handle inline; "" for no cell."""
    if isinstance(value, bool):  # before int: a bool is one
        return f'{reference}" t="b"><v>{int(value)}{_VALUE_END}'
    if isinstance(value, int):
        return f"{reference}{_NUMBER_CELL}{int(value)}{_VALUE_END}"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"xlsx: a cell cannot hold {value}")
        return f"{reference}{_NUMBER_CELL}{value!r}{_VALUE_END}"
    if isinstance(value, datetime):
        return f"{reference}{_DATETIME_CELL}{excel_serial(value)!r}{_VALUE_END}"
    if isinstance(value, str):
        text = _text_xml(value)
        return f"{reference}{text_cell}{text}{_TEXT_END}" if text else ""
    raise TypeError(f"xlsx: cannot write {type(value).__name__} {value!r}")


def _split(reference: str) -> tuple[str, str]:
    """``("S", "12")`` for ``S12``."""
    digits = reference.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return reference[: len(reference) - len(digits)], digits


def _argb(rgb: str) -> str:
    """``FF1F4E78`` for ``1F4E78``: an opaque colour as styles.xml spells it."""
    if not re.fullmatch("[0-9A-Fa-f]{6}", rgb):
        raise ValueError(f"xlsx: {rgb!r} is not an RRGGBB colour")
    return "FF" + rgb.upper()
