"""Workbooks (.xlsx) the tool writes: every cell a text cell, never a formula; a Summary and a Legend sheet.

Written with xlsxwriter in ``constant_memory`` mode (one row in memory at a time), to a temporary file
renamed over the final path only when complete (:func:`pipeline.files.atomic_path`). Every data cell and
header goes through ``write_string``, so Excel stores it as text: ids with leading zeros, long numeric
ids, phones and postcodes keep every character, and a value beginning with ``=`` is text, not a formula
(``strings_to_formulas`` is off as well, in case a generic ``write`` ever slips in). No ``'`` is added:
that CSV escape would become part of the value in a workbook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter

from pipeline.errors import ConfigError
from pipeline.files import atomic_path

# Excel's limits: rows per sheet (header included) and characters per cell.
MAX_ROWS = 1_048_576
MAX_CELL = 32_767
_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}


@dataclass(frozen=True)
class Sheets:
    """What goes around the data: sheet name, coloured columns, the Summary and the Legend."""

    data_sheet: str
    summary: Mapping[str, object]
    legend: Sequence[tuple[str, str, str]]
    # column name -> {cell value: (fill colour, font colour)}
    colours: Mapping[str, Mapping[str, tuple[str, str]]] = field(default_factory=dict)


def write_workbook(
    path: str | Path, headers: list[str], rows: Iterable[Sequence[str | None]], sheets: Sheets
) -> int:
    """Write ``rows`` (text cells in ``headers`` order) as the first sheet; return how many."""
    with atomic_path(path) as temp:
        book = xlsxwriter.Workbook(str(temp), _OPTIONS)
        try:
            written = _data_sheet(book, headers, rows, sheets)
            _pairs_sheet(book, "Summary", ("count", "value"), sheets.summary.items())
            _legend_sheet(book, sheets.legend)
        finally:
            book.close()
    return written


def _data_sheet(
    book: xlsxwriter.Workbook, headers: list[str], rows: Iterable[Sequence[str | None]], sheets: Sheets
) -> int:
    sheet = book.add_worksheet(sheets.data_sheet)
    bold = book.add_format({"bold": True})
    sheet.set_column(0, max(len(headers) - 1, 0), 18)
    for col, name in enumerate(headers):
        sheet.write_string(0, col, name, bold)
    row = 0
    for values in rows:
        row += 1
        if row >= MAX_ROWS:
            raise ConfigError(f"more than {MAX_ROWS - 1} rows do not fit in one .xlsx sheet; write CSV")
        for col, value in enumerate(values):
            # Empty cells stay blank: a workbook, like our CSV, does not tell empty from missing.
            if value and sheet.write_string(row, col, value) == -2:
                raise ConfigError(
                    f"row {row + 1}, column {headers[col]!r}: more than {MAX_CELL} characters do not fit "
                    "in an .xlsx cell; write CSV"
                )
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(row, 1), max(len(headers) - 1, 0))
    for name, colours in sheets.colours.items():
        if name not in headers:
            continue
        col = headers.index(name)
        for value, (fill, font) in colours.items():
            style = book.add_format({"bg_color": fill, "font_color": font})
            rule = {"type": "cell", "criteria": "==", "value": f'"{value}"', "format": style}
            sheet.conditional_format(1, col, max(row, 1), col, rule)
    return row


def _pairs_sheet(
    book: xlsxwriter.Workbook, name: str, header: tuple[str, str], pairs: Iterable[tuple[str, object]]
) -> None:
    sheet = book.add_worksheet(name)
    bold = book.add_format({"bold": True})
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 60)
    sheet.write_string(0, 0, header[0], bold)
    sheet.write_string(0, 1, header[1], bold)
    for row, (key, value) in enumerate(pairs, start=1):
        sheet.write_string(row, 0, key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            sheet.write_number(row, 1, value)
        else:
            sheet.write_string(row, 1, _text(value))
    sheet.freeze_panes(1, 0)


def _legend_sheet(book: xlsxwriter.Workbook, legend: Sequence[tuple[str, str, str]]) -> None:
    sheet = book.add_worksheet("Legend")
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    sheet.set_column(0, 0, 10)
    sheet.set_column(1, 1, 30)
    sheet.set_column(2, 2, 90, wrap)
    for col, name in enumerate(("what", "name", "meaning")):
        sheet.write_string(0, col, name, bold)
    for row, cells in enumerate(legend, start=1):
        for col, text in enumerate(cells):
            sheet.write_string(row, col, text, wrap if col == 2 else None)
    sheet.freeze_panes(1, 0)


def _text(value: object) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)
