"""What a workbook's XML says beyond cell values: its sheets, and the layout of one sheet.

The values themselves are read by calamine (:mod:`.workbook`), which returns numbers as floats and knows
nothing of row numbers, hidden rows, formulas, merged ranges or number formats. This module streams the
sheet's XML once (in chunks, so a large sheet never sits in memory whole) and records only those facts:

- the sheet rows and columns that hold a value, so each value gets its sheet row number (calamine's range
  starts at the first row and column that hold a value, exactly as counted here);
- hidden rows that hold a value, formula cells (and those without a cached value), error cells, merged
  ranges;
- cells whose number format pads with zeros (``00000``) and columns holding date-formatted cells, so their
  values can be shown as Excel displays them.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from pipeline.errors import UnreadableFileError

CHUNK_BYTES = 1 << 22
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# Built-in number formats (ECMA-376 18.8.30) that show a date or a time.
_BUILTIN_DATES = frozenset({*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)})
# The row's body is matched unrolled (runs of non-``<``, then a ``<`` that does not close the row): a lazy
# ``.*?`` is half again as slow on a large sheet.
_ROW = re.compile(rb"<(\w+:)?row\b([^>]*?)(?:/>|>([^<]*(?:<(?!/(?:\w+:)?row>)[^<]*)*)</(?:\w+:)?row>)")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.DOTALL)
_ROW_END = re.compile(rb"</(?:\w+:)?row>$")
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([^\"]+)\"")
_REF = re.compile(rb"\br=\"([A-Z]+)?(\d+)\"")
_STYLE = re.compile(rb"\bs=\"(\d+)\"")
_TYPE = re.compile(rb"\bt=\"(\w+)\"")
_HIDDEN = re.compile(rb"\bhidden=\"(?:1|true)\"")
_VALUE = re.compile(rb"<(?:\w+:)?(?:v|is)\b[^>]*>\s*\S", re.DOTALL)
_FORMULA = re.compile(rb"<(?:\w+:)?f\b")
# Quoted literals, escaped characters and [colour]/[locale] sections carry no date or digit meaning.
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')
_PADDED = re.compile(r"0*(?:[-\s()/.]*0+)*")


def is_workbook(names: list[str]) -> bool:
    """An Office Open XML workbook (.xlsx, .xlsm): a zip whose parts include ``xl/workbook.xml``."""
    return "xl/workbook.xml" in names


@dataclass(frozen=True)
class SheetInfo:
    """A sheet of the workbook: its name and the zip part holding its XML."""

    name: str
    part: str


@dataclass
class SheetLayout:
    """The facts about one sheet that calamine's values do not carry (see the module docstring)."""

    # Sheet rows and columns are numbered from 1: 0 means the sheet holds no value at all.
    first_row: int = 0
    last_row: int = 0
    first_col: int = 0
    last_col: int = 0
    hidden_rows: list[int] = field(default_factory=list)
    formulas: int = 0
    formulas_without_value: int = 0
    errors: int = 0
    merged: list[str] = field(default_factory=list)
    # (sheet row, sheet column) of a numeric cell -> the zero-padding number format it is shown with.
    padded: dict[tuple[int, int], str] = field(default_factory=dict)
    date_columns: set[int] = field(default_factory=set)


def column_number(letters: str) -> int:
    """``A`` -> 1, ``Z`` -> 26, ``AA`` -> 27."""
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number


def column_letters(number: int) -> str:
    """1 -> ``A``, 27 -> ``AA``."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheets(archive: zipfile.ZipFile, path: object) -> list[SheetInfo]:
    """The worksheets of the workbook, in the order Excel shows their tabs."""
    try:
        book = ET.fromstring(archive.read("xl/workbook.xml"))
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError) as err:
        raise UnreadableFileError(f"{path}: is a damaged Excel workbook ({err})") from None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{{{_PKG_REL_NS}}}Relationship")}
    found = []
    for sheet in book.iter(f"{{{_MAIN_NS}}}sheet"):
        target = targets.get(sheet.get(f"{{{_REL_NS}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
        found.append(SheetInfo(sheet.get("name", ""), part))
    return found


def styles(archive: zipfile.ZipFile) -> tuple[set[int], dict[int, str]]:
    """The style ids (``s=``) whose number format shows a date, and those that pad with zeros (with it)."""
    try:
        root = ET.fromstring(archive.read("xl/styles.xml"))
    except (KeyError, ET.ParseError):
        return set(), {}
    codes = {int(f.get("numFmtId", "0")): f.get("formatCode", "") for f in root.iter(f"{{{_MAIN_NS}}}numFmt")}
    dates: set[int] = set()
    padded: dict[int, str] = {}
    cell_xfs = root.find(f"{{{_MAIN_NS}}}cellXfs")
    for index, xf in enumerate(cell_xfs if cell_xfs is not None else []):
        fmt_id = int(xf.get("numFmtId", "0"))
        code = codes.get(fmt_id)
        if fmt_id in _BUILTIN_DATES or (code is not None and _is_date_format(code)):
            dates.add(index)
        elif code is not None and is_padding_format(code):
            padded[index] = code
    return dates, padded


def _is_date_format(code: str) -> bool:
    plain = _FORMAT_NOISE.sub("", code.split(";")[0]).lower()
    return plain != "general" and any(ch in plain for ch in "dmyhs")


def is_padding_format(code: str) -> bool:
    """A format made of zeros and separators only (``00000``, ``00000-0000``): digits shown padded."""
    plain = code.split(";")[0].replace("\\", "")
    return plain.count("0") >= 2 and _PADDED.fullmatch(plain) is not None


def scan_sheet(archive: zipfile.ZipFile, part: str, dates: set[int], padded: dict[int, str]) -> SheetLayout:
    """Stream the sheet's XML once and record its :class:`SheetLayout`."""
    scan = _Scan(SheetLayout(), dates, padded)
    row_number = 0
    tail = b""
    for text in _rows_text(archive, part):
        for match in _ROW.finditer(text):
            prefix, attrs, body = match.group(1) or b"", match.group(2), match.group(3)
            ref = _REF.search(attrs)
            row_number = int(ref.group(2)) if ref else row_number + 1
            if body and scan.row(row_number, prefix, body) and _HIDDEN.search(attrs):
                scan.layout.hidden_rows.append(row_number)
        tail = text
    scan.layout.merged = [m.group(1).decode() for m in _MERGE.finditer(tail)]
    return scan.layout


def _rows_text(archive: zipfile.ZipFile, part: str) -> Iterator[bytes]:
    """The sheet's XML in pieces that end after a complete row (the last piece: everything after them)."""
    pending = b""
    with archive.open(part) as f:
        while chunk := f.read(CHUNK_BYTES):
            pending += chunk
            cut = _after_last_row_end(pending)
            if cut < 0:
                continue
            yield pending[:cut]
            pending = pending[cut:]
    yield pending


def _after_last_row_end(text: bytes) -> int:
    """The offset just after the last ``</row>`` (or ``</x:row>``) in ``text``, or -1."""
    at = len(text)
    while (at := text.rfind(b"row>", 0, at)) >= 0:
        if _ROW_END.search(text, max(0, at - 40), at + 4):
            return at + 4
    return -1


@dataclass
class _Scan:
    """One pass over a sheet's rows, filling ``layout``.

    Most rows need only their first and last cells looked at (for the columns that hold values) and the
    cells styled with a date or zero-padding format; a row with a formula, an error or an unusual shape
    (a cell without its ``r`` reference) is looked at cell by cell.
    """

    layout: SheetLayout
    dates: set[int]
    padded: dict[int, str]

    def __post_init__(self) -> None:
        styled = sorted(self.dates | set(self.padded))
        ids = b"|".join(str(i).encode() for i in styled)
        self._styled = re.compile(rb'\bs="(?:' + ids + rb')"') if styled else None

    def row(self, row: int, prefix: bytes, body: bytes) -> bool:
        """Record the row ``row``; whether it holds a value."""
        if _FORMULA.search(body) or b't="e"' in body:
            return self._cells(row, body)
        first = _CELL.search(body)
        at = body.rfind(b"<" + prefix + b"c ")
        last = _CELL.match(body, at) if at >= 0 else None
        ends = [_cell_column(m) for m in (first, last) if m is not None and _VALUE.search(m.group(2) or b"")]
        if len(ends) != 2 or None in ends:
            return self._cells(row, body)
        self._extend(*ends)  # type: ignore[arg-type]
        if self._styled is not None:
            for styled in self._styled.finditer(body):
                cell = _CELL.match(body, body.rfind(b"<", 0, styled.start()))
                if cell is not None:
                    self._style(row, _cell_column(cell) or 0, cell.group(1))
        return self._mark(row)

    def _cells(self, row: int, body: bytes) -> bool:
        column = 0
        valued = False
        for cell in _CELL.finditer(body):
            attrs, content = cell.group(1), cell.group(2) or b""
            column = _cell_column(cell) or column + 1
            has_value = _VALUE.search(content) is not None
            if _FORMULA.search(content):
                self.layout.formulas += 1
                self.layout.formulas_without_value += not has_value
            if not has_value:
                continue
            valued = True
            self._extend(column, column)
            if b't="e"' in attrs:
                self.layout.errors += 1
            self._style(row, column, attrs)
        return self._mark(row) if valued else False

    def _extend(self, first: int, last: int) -> None:
        layout = self.layout
        layout.first_col = min(layout.first_col, first) if layout.first_col else first
        layout.last_col = max(layout.last_col, last)

    def _style(self, row: int, column: int, attrs: bytes) -> None:
        style = _STYLE.search(attrs)
        kind = _TYPE.search(attrs)
        if style is None or column == 0 or (kind is not None and kind.group(1) != b"n"):
            return
        index = int(style.group(1))
        if index in self.dates:
            self.layout.date_columns.add(column)
        elif index in self.padded:
            self.layout.padded[row, column] = self.padded[index]

    def _mark(self, row: int) -> bool:
        self.layout.first_row = self.layout.first_row or row
        self.layout.last_row = row
        return True


def _cell_column(cell: re.Match[bytes]) -> int | None:
    ref = _REF.search(cell.group(1))
    return column_number(ref.group(1).decode()) if ref and ref.group(1) else None
