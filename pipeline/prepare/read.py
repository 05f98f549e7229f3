"""Read a spreadsheet CSV into the raw frame: every column as text, plus each row's spreadsheet row number.

An Excel workbook (.xlsx) is recognised by its content and read by :mod:`.workbook` into the same frame.

What the reader accepts
    Encodings: UTF-8 with or without a byte-order mark, UTF-16 LE/BE with a byte-order mark, and
    Windows-1252 only for a file without a single valid UTF-8 multi-byte sequence (with a warning, because
    the guess can be wrong), or exactly the encoding named by ``encoding=`` (see :mod:`.sniff`). Delimiters
    ``,`` ``;`` and tab, detected from the header record (outside quotes) or named by Excel's ``sep=`` line.
    Quoted fields with embedded newlines or carriage returns, ``""`` escapes, LF and CRLF line ends. A bare
    carriage return outside quotes is refused: polars would keep it inside a cell where a spreadsheet ends
    the row, and every later row would be misread.

Row numbers (``source_row``)
    The row a spreadsheet shows, counted by the one parser that splits the file (polars): each CSV record is
    one row, even when a quoted cell spans several lines, and a blank line is a row of its own (Excel shows
    it) but yields no data row. The header is row 1 unless blank lines precede it, in which case it is the
    row after them. Excel's ``sep=`` line is not a row (Excel hides it).

Ragged rows
    A row with fewer fields than the header gets null for the missing cells. A row with more fields is
    accepted only when the extra fields are empty (a trailing ``,`` that some exports add); a non-empty extra
    field makes the file unreadable, naming the first such row, because its cells cannot be attributed to a
    column.

Large files stay in polars: non-UTF-8 input is transcoded to a temporary UTF-8 file in chunks, the CSV is
parsed by polars from that literal path (never globbed: ``cust[12].csv`` is one file), and row numbers are
polars' record index. Python only touches the header and, when a row has all cells empty or too many
fields, the file again (see :mod:`.records`).
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import polars as pl

from pipeline.errors import ConfigError, UnreadableFileError
from pipeline.outcomes import OLD_OUTCOME_NAMES, OUTCOME_COLUMNS, RUN_COLUMNS, SOURCE_ROW
from pipeline.prepare.header import (
    BLANK_HEADER,
    DELIMITERS,
    STALE_SOURCE_ROW,
    Header,
    column_name,
    read_header,
)
from pipeline.prepare.records import blank_records, first_bare_cr
from pipeline.prepare.sniff import WORKBOOK_SUFFIXES, decode, is_workbook_file, regular_file
from pipeline.prepare.workbook import read_sheet

WORKBOOK_ENCODING = "xlsx"
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}


@dataclass(frozen=True)
class RawTable:
    """A CSV file as text columns, with what the reader had to guess about it."""

    frame: pl.DataFrame
    headers: tuple[str, ...]
    path: Path
    encoding: str
    delimiter: str
    warnings: tuple[str, ...]
    # The outcome columns of a reconciliation file fed back as input (``source_row`` renumbered for this
    # read), or None for an ordinary input file. ``import --only-failed`` picks its rows from these.
    previous: pl.DataFrame | None = None
    # The sheet read, for a workbook (``encoding`` is then ``"xlsx"`` and ``delimiter`` empty).
    sheet: str | None = None


def read_table(path: str | Path, *, encoding: str | None = None, sheet: str | int | None = None) -> RawTable:
    """Read ``path`` into a :class:`RawTable`; raise :class:`UnreadableFileError` when it cannot be used.

    ``encoding`` names a CSV file's encoding (any Python codec name) instead of detecting it. An Excel
    workbook (.xlsx, recognised by its content) is read from its first sheet, or from ``sheet`` (a name,
    or a 1-based position); see :mod:`.workbook`.
    """
    path = Path(path)
    warnings: list[str] = []
    sheet_name = None
    with tempfile.TemporaryDirectory(prefix="contacts-pipeline-read-") as tmp:
        data = regular_file(path, Path(tmp))
        if is_workbook_file(data, path):
            if encoding is not None:
                raise ConfigError(f"--encoding does not apply to {path}: it is an Excel workbook")
            frame, sheet_name, found = read_sheet(path, data, sheet)
            warnings.extend(found)
            used, delimiter = WORKBOOK_ENCODING, ""
        else:
            if sheet is not None:
                raise ConfigError(f"--sheet applies to Excel workbooks (.xlsx); {path} is not one")
            frame, used, delimiter = _read_csv(path, data, Path(tmp), encoding, warnings)
    frame = _drop_blank_header_columns(frame, path, warnings)
    frame, previous = _split_outcome_columns(frame, warnings)
    if frame.height == 0:
        where = "the file" if sheet_name is None else f"the sheet {sheet_name!r}"
        raise UnreadableFileError(f"{path}: {where} has a header but no data rows")
    headers = tuple(c for c in frame.columns if c != SOURCE_ROW)
    return RawTable(
        frame=frame,
        headers=headers,
        path=path,
        encoding=used,
        delimiter=delimiter,
        warnings=tuple(warnings),
        previous=previous,
        sheet=sheet_name,
    )


def _read_csv(
    path: Path, data: Path, scratch: Path, encoding: str | None, warnings: list[str]
) -> tuple[pl.DataFrame, str, str]:
    """The CSV file's text columns with ``source_row``, its encoding and its delimiter."""
    decoded = decode(path, data, scratch, encoding)
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        raise UnreadableFileError(
            f"{path}: is named {path.suffix} but is not an Excel workbook; if it is a CSV file, name it .csv"
        )
    if decoded.warning:
        warnings.append(decoded.warning)
    source = decoded.source
    header = read_header(source, path)
    _reject_bare_carriage_returns(source, header, path)
    frame = _parse(source, header, path, warnings)
    frame = _number_rows(frame, source, header, path)
    _reject_other_delimiter_rows(frame, source, header, path)
    return frame, decoded.encoding, header.delimiter


def _reject_bare_carriage_returns(source: Path, header: Header, path: Path) -> None:
    """Refuse a carriage return outside quotes that is not part of CRLF (see the module docstring)."""
    found = first_bare_cr(source)
    if found is not None:
        offset, record = found
        raise UnreadableFileError(
            f"{path}: row {record + 1 - header.skip_lines}: a line ends with a bare carriage return (byte "
            f"offset {offset}) while the others end with LF or CRLF; a spreadsheet would split that row "
            "where this tool cannot tell: save the file again with one kind of line end"
        )


def _parse(source: Path, header: Header, path: Path, warnings: list[str]) -> pl.DataFrame:
    def read(truncate: bool) -> pl.DataFrame:
        return pl.read_csv(
            # An absolute path, so polars never takes a name for a URL or a home folder; glob=False, so
            # brackets, stars and question marks in it are plain characters.
            os.path.abspath(source),
            glob=False,
            skip_lines=header.skip_lines,
            separator=header.delimiter,
            has_header=True,
            infer_schema=False,
            quote_char='"',
            truncate_ragged_lines=truncate,
            raise_if_empty=False,
        )

    try:
        try:
            frame = read(truncate=False)
        except pl.exceptions.ComputeError as err:
            if "more fields than defined" not in str(err):
                raise
            extra = _count_empty_extra_fields(source, header, path)
            warnings.append(f"{extra} row(s) end with empty fields beyond the last column; they were ignored")
            frame = read(truncate=True)
    except pl.exceptions.PolarsError as err:
        problem = _quote_problem(source, header)
        if problem is not None:
            raise UnreadableFileError(f"{path}: not a valid CSV file: {problem}") from None
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnreadableFileError(f"{path}: not a valid CSV file ({reason})") from None
    if frame.width != len(header.names):
        raise UnreadableFileError(
            f"{path}: the header has {len(header.names)} columns but {frame.width} were parsed"
        )
    frame.columns = [column_name(name, i) for i, name in enumerate(header.names, start=1)]
    return frame


def _open_rows(source: Path, header: Header) -> TextIO:
    """``source`` as text, positioned after Excel's ``sep=`` line if any, so row 1 is the first row."""
    f = source.open(encoding="utf-8-sig", newline="")
    for _ in range(header.skip_lines):
        f.readline()
    return f


def _quote_problem(source: Path, header: Header) -> str | None:
    """The first misplaced quote in the file, named by its spreadsheet row, or None when quotes are fine.

    Only called after polars refused the file, to say where: a slow character walk is fine there.
    """
    row = opened = 0
    quoted = closed = False
    start = True
    ends = (header.delimiter, "\r", "\n")
    with _open_rows(source, header) as f:
        for line in f:
            if not quoted:
                row += 1
            for ch in line:
                if quoted:
                    if ch == '"':
                        quoted, closed = False, True
                elif closed:
                    if ch == '"':  # a doubled quote inside a quoted cell
                        quoted, closed = True, False
                    elif ch in ends:
                        closed, start = False, True
                    else:
                        return f"row {row}: text after the closing quote of a quoted cell"
                elif ch == '"':
                    if not start:
                        return (
                            f"row {row}: a quote inside an unquoted cell; quote the whole cell "
                            'and double the quote ("")'
                        )
                    quoted, opened, start = True, row, False
                else:
                    start = ch in ends
    if quoted:
        return f"row {opened}: a quoted cell is never closed (a missing quote swallows the rest of the file)"
    return None


def _count_empty_extra_fields(source: Path, header: Header, path: Path) -> int:
    """Count rows whose fields beyond the header are all empty; raise on the first with data there."""
    width = len(header.names)
    found = 0
    with _open_rows(source, header) as f:
        reader = csv.reader(f, delimiter=header.delimiter)
        row = 0
        seen_header = False
        try:
            for record in reader:
                row += 1
                if not seen_header:
                    seen_header = bool(record)
                    continue
                if len(record) > width:
                    if any(cell.strip() for cell in record[width:]):
                        raise UnreadableFileError(
                            f"{path}: row {row} has {len(record)} fields but the header has {width}; "
                            "add headers for the extra columns or remove them"
                        )
                    found += 1
        except csv.Error as err:
            raise UnreadableFileError(f"{path}: not a valid CSV file near row {row} ({err})") from None
    return found


def _number_rows(frame: pl.DataFrame, source: Path, header: Header, path: Path) -> pl.DataFrame:
    """Add ``source_row`` (polars' record index, as a spreadsheet counts) and drop the blank-line rows.

    polars keeps a blank line as an all-null row, which is also how it reads a row of empty cells (``,,``).
    Both are spreadsheet rows, so every polars row advances the row number. Only when a row is all null is
    the file scanned again to tell the two apart; the scan must count the records polars counted.
    """
    columns = frame.columns
    first_data = header.row + 1
    numbered = frame.with_columns(
        pl.int_range(first_data, first_data + pl.len(), dtype=pl.Int64).alias(SOURCE_ROW)
    )
    # Cheap first: only rows whose first cell is empty can be blank lines; the wide check runs on those.
    candidates = numbered.filter(pl.col(columns[0]).is_null())
    if candidates.height:
        candidates = candidates.filter(pl.all_horizontal(pl.exclude(SOURCE_ROW).is_null()))
    if candidates.height == 0:
        return numbered.select(SOURCE_ROW, *columns)
    blank, records = blank_records(source)
    offset = header.skip_lines + header.leading_blank_lines  # record index of the header
    if records != offset + 1 + frame.height:
        raise UnreadableFileError(
            f"{path}: not a valid CSV file: its rows cannot be counted consistently ({records - offset} "
            f"records, {frame.height + 1} rows parsed); please report this file"
        )
    blank_rows = [row for row in candidates.get_column(SOURCE_ROW) if row - header.row + offset in blank]
    return numbered.filter(~pl.col(SOURCE_ROW).is_in(blank_rows)).select(SOURCE_ROW, *columns)


def _reject_other_delimiter_rows(frame: pl.DataFrame, source: Path, header: Header, path: Path) -> None:
    """Refuse rows written with another delimiter than the header's (all of it lands in the first cell).

    Such a row would otherwise be read as one long key with every other cell empty, and be imported. A
    row is refused only when it has a single field (no header delimiter at all) that the other delimiter
    splits into as many fields as the header has: ``a;b,,`` is a cell holding ``a;b``, not a foreign row.
    """
    columns = [c for c in frame.columns if c != SOURCE_ROW]
    if len(columns) < 2:
        return
    first, others = columns[0], columns[1:]
    rest_empty = pl.all_horizontal([pl.col(c).is_null() for c in others])
    delimiter = header.delimiter
    for other in DELIMITERS:
        if other == delimiter:
            continue
        fields = pl.col(first).str.count_matches(other, literal=True) + 1
        suspects = frame.filter(rest_empty & (fields == len(columns))).get_column(SOURCE_ROW)
        row = _first_single_field_row(source, header, set(suspects.to_list())) if suspects.len() else None
        if row is not None:
            raise UnreadableFileError(
                f"{path}: row {row} is separated by {_DELIMITER_NAMES[other]} but the header by "
                f"{_DELIMITER_NAMES[delimiter]}; save the file with one delimiter throughout"
            )


def _first_single_field_row(source: Path, header: Header, rows: set[int]) -> int | None:
    """The first of ``rows`` (spreadsheet row numbers) whose record has just one field."""
    last = max(rows)
    with _open_rows(source, header) as f:
        try:
            for row, record in enumerate(csv.reader(f, delimiter=header.delimiter), start=1):
                if row in rows and len(record) == 1:
                    return row
                if row >= last:
                    break
        except csv.Error:
            return None  # a cell too large for the csv module: polars read it, so leave it be
    return None


def _drop_blank_header_columns(frame: pl.DataFrame, path: Path, warnings: list[str]) -> pl.DataFrame:
    blank = [c for c in frame.columns if c.startswith(BLANK_HEADER)]
    for name in blank:
        position = name.rsplit("_", 1)[-1]
        if frame.get_column(name).str.strip_chars().replace("", None).null_count() != frame.height:
            raise UnreadableFileError(f"{path}: column {position} holds data but has no header")
        warnings.append(f"column {position} has no header and no data; it was ignored")
    return frame.drop(blank)


def _split_outcome_columns(
    frame: pl.DataFrame, warnings: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    # A reconciliation file fed back as input: its outcome columns describe the previous run, not the data.
    # Both status columns must be there: a CRM export may well have a column called `contact_id`.
    is_report = {"organization_status", "contact_status"} <= set(frame.columns)
    report_columns = {*OUTCOME_COLUMNS[1:], *RUN_COLUMNS, *OLD_OUTCOME_NAMES}
    stale = [c for c in frame.columns if (is_report and c in report_columns) or c == STALE_SOURCE_ROW]
    if not is_report:
        if stale:
            warnings.append(f"the column {SOURCE_ROW!r} was ignored: the tool numbers rows itself")
        return frame.drop(stale), None
    names = [SOURCE_ROW if c == STALE_SOURCE_ROW else c for c in stale]
    warnings.append("outcome columns of a previous run were ignored: " + ", ".join(names))
    # A report written before the id columns were renamed names them the old way.
    found = {new: old for old, new in OLD_OUTCOME_NAMES.items() if old in frame.columns}
    previous = frame.select(
        SOURCE_ROW,
        *(
            pl.col(c)
            if c in frame.columns
            else pl.col(found[c]).alias(c)
            if c in found
            else pl.lit(None, dtype=pl.String).alias(c)
            for c in OUTCOME_COLUMNS[1:]
        ),
    )
    return frame.drop(stale), previous
