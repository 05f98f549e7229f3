"""Read one sheet of an Excel workbook (.xlsx) into the same raw frame the CSV reader produces.

Values come from calamine (the ``fastexcel`` package, which polars' ``read_excel`` uses too): it reads a
100k-row sheet in well under a second, where openpyxl's read-only mode takes several (bench/README.md).
What calamine does not report is read from the sheet's XML by :mod:`.xlsx_scan`.

How cells become text
    Text cells exactly as stored (``00123`` stays ``00123``). Whole numbers as their integer digits
    (``123456789012``, never ``1.23457E+11`` or ``123456789012.0``), other numbers in their shortest exact
    form (``0.3``, ``1234.5``): number formats that round or group digits are not applied, except a
    format of zeros (``00000``, ``00000-0000``), which pads the digits as Excel shows them. Dates as ISO
    (``2024-01-31``; with a time ``2024-01-31T13:45:00``; a time alone ``13:45:00``). Booleans as
    ``true``/``false``. Error values (``#N/A``) and formulas without a cached value are empty. Excel keeps
    only 15 significant digits of a number: a longer id must be stored as text in the workbook.

Rows
    ``source_row`` is the sheet's row number. The header is the first row that holds a value; rows of
    empty cells are skipped as blank lines are in a CSV. Hidden rows are read like any row (with a
    warning); a merged range holds its value in its top-left cell only, the others are empty.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import fastexcel
import polars as pl

from pipeline.errors import ConfigError, UnreadableFileError
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare.header import clean_header, column_name, reject_duplicates
from pipeline.prepare.xlsx_scan import (
    SheetInfo,
    SheetLayout,
    column_letters,
    scan_sheet,
    sheets,
    styles,
)

# A date-only cell is read as midnight; a time-only cell as a time on calamine's day zero.
_TIME_ONLY = (r"^1899-12-3[01] (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$", "$1")
_MIDNIGHT = (r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "$1")
_DATE_TIME = (r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})", "${1}T$2")
MAX_LISTED = 5


def read_sheet(path: Path, data: Path, sheet: str | int | None) -> tuple[pl.DataFrame, str, list[str]]:
    """The chosen sheet of the workbook ``data`` (the input ``path``) as text columns with ``source_row``,
    the sheet's name, and the warnings it deserves."""
    try:
        with zipfile.ZipFile(data) as archive:
            every = sheets(archive, path)
            chosen = choose_sheet(every, sheet, path)
            dates, padded = styles(archive)
            layout = scan_sheet(archive, chosen.part, dates, padded)
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise UnreadableFileError(f"{path}: is a damaged Excel workbook ({err})") from None
    if not layout.first_row:
        raise UnreadableFileError(f"{path}: the sheet {chosen.name!r} is empty")
    cells = _values(path, data, chosen, layout)
    frame = _with_header(_displayed(cells, layout), layout, path)
    return frame, chosen.name, _warnings(every, chosen, layout)


def choose_sheet(every: list[SheetInfo], sheet: str | int | None, path: Path) -> SheetInfo:
    """The sheet named ``sheet``, or at that 1-based position; the first sheet when None."""
    if not every:
        raise UnreadableFileError(f"{path}: is a damaged Excel workbook (it lists no sheets)")
    if sheet is None:
        return every[0]
    for info in every:
        if info.name == str(sheet):
            return info
    text = str(sheet).strip()
    if text.isdigit() and 1 <= int(text) <= len(every):
        return every[int(text) - 1]
    names = ", ".join(repr(s.name) for s in every)
    raise ConfigError(
        f"--sheet {sheet!r}: {path} has no such sheet; its sheets are {names} (a name, or 1 to {len(every)})"
    )


def _values(path: Path, data: Path, chosen: SheetInfo, layout: SheetLayout) -> pl.DataFrame:
    try:
        reader = fastexcel.read_excel(str(data))
        cells = reader.load_sheet_by_name(chosen.name, header_row=None, dtypes="string").to_polars()
    except Exception as err:  # fastexcel's own error classes share no base of their own
        raise UnreadableFileError(f"{path}: the sheet {chosen.name!r} cannot be read ({err})") from None
    expected = (layout.last_row - layout.first_row + 1, layout.last_col - layout.first_col + 1)
    if cells.shape != expected:
        raise UnreadableFileError(
            f"{path}: the sheet {chosen.name!r} cannot be read consistently ({cells.shape[0]} rows and "
            f"{cells.shape[1]} columns read, {expected[0]} and {expected[1]} in its XML); "
            "please report this file"
        )
    return cells


def _displayed(cells: pl.DataFrame, layout: SheetLayout) -> pl.DataFrame:
    """Cells as Excel shows them where calamine's text differs: dates, zero-padded numbers, empty text."""
    columns = cells.columns
    dates = [columns[c - layout.first_col] for c in layout.date_columns]
    cells = cells.with_columns(
        pl.col(name).str.replace(*_TIME_ONLY).str.replace(*_MIDNIGHT).str.replace(*_DATE_TIME)
        for name in dates
    )
    by_column: dict[int, dict[int, str]] = {}
    for (row, column), code in layout.padded.items():
        by_column.setdefault(column, {})[row - layout.first_row] = code
    for column, codes in by_column.items():
        name = columns[column - layout.first_col]
        values = cells.get_column(name).to_list()
        for index, code in codes.items():
            values[index] = padded_display(values[index], code)
        cells = cells.with_columns(pl.Series(name, values, dtype=pl.String))
    return cells.with_columns(pl.all().replace("", None))


def padded_display(value: str | None, code: str) -> str | None:
    """A whole number shown with a zero-padding format: ``123`` with ``00000`` is ``00123``."""
    if value is None or not value.isdigit():
        return value
    tokens: list[str | None] = []  # None: a digit placeholder; text: a literal
    chars = iter(code.split(";")[0])
    for ch in chars:
        tokens.append(None if ch == "0" else next(chars, "") if ch == "\\" else ch)
    slots = tokens.count(None)
    digits = value.zfill(slots)
    extra = len(digits) - slots  # digits beyond the placeholders go with the first one, as Excel does
    out: list[str] = []
    position = 0
    for token in tokens:
        if token is not None:
            out.append(token)
            continue
        width = 1 + extra if position == 0 else 1
        out.append(digits[position : position + width] if position else digits[:width])
        position += width
    return "".join(out)


def _with_header(cells: pl.DataFrame, layout: SheetLayout, path: Path) -> pl.DataFrame:
    """The first row as column names, the others numbered with their sheet row; empty rows dropped."""
    first_col = layout.first_col
    headers = tuple(clean_header(value) if value is not None else "" for value in cells.row(0))
    reject_duplicates(headers, path, label=lambda position: column_letters(first_col + position - 1))
    names = [column_name(name, column_letters(first_col + i)) for i, name in enumerate(headers)]
    first_data = layout.first_row + 1
    frame = (
        cells.slice(1)
        .rename(dict(zip(cells.columns, names, strict=True)))
        .with_columns(pl.int_range(first_data, first_data + pl.len(), dtype=pl.Int64).alias(SOURCE_ROW))
    )
    content = pl.exclude(SOURCE_ROW)
    return frame.filter(~pl.all_horizontal(content.is_null())).select(SOURCE_ROW, *names)


def _warnings(every: list[SheetInfo], chosen: SheetInfo, layout: SheetLayout) -> list[str]:
    warnings = []
    others = [s.name for s in every if s is not chosen]
    if others:
        warnings.append(
            f"the workbook has other sheets ({_listed([repr(n) for n in others])}); only {chosen.name!r} "
            "was read (choose another with --sheet)"
        )
    hidden = [r for r in layout.hidden_rows if r != layout.first_row]
    if hidden:
        rows = ", ".join(map(str, hidden[:MAX_LISTED])) + (", ..." if len(hidden) > MAX_LISTED else "")
        warnings.append(f"{_count(len(hidden), 'hidden row')} read like the others (rows {rows})")
    if layout.formulas:
        missing = layout.formulas_without_value
        warnings.append(
            f"{_count(layout.formulas, 'formula cell')}: read at the value the spreadsheet last calculated"
            + (f"; {_count(missing, 'formula')} without a calculated value read as empty" if missing else "")
            + " (recalculate and save the workbook in Excel if in doubt)"
        )
    if layout.errors:
        warnings.append(f"{_count(layout.errors, 'cell')} with an error value (such as #N/A) read as empty")
    if layout.merged:
        warnings.append(
            f"{_count(len(layout.merged), 'merged range')} ({_listed(layout.merged)}): the value is in the "
            "top-left cell only, the other cells of the range read as empty"
        )
    return warnings


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
