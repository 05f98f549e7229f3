"""CSV text parsed by polars, and the checks on what it parsed, shared by the whole-file and chunked reader.

A :class:`CsvText` is either the whole UTF-8 file or, for the chunked reader (:mod:`.stream`), the lines up
to the header followed by a run of whole records. Every check here names spreadsheet rows, which is why a
piece carries the row number of its first data record. Messages that describe the file as a whole (a
misplaced quote) are always computed on the whole file, so both readers word them alike.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import polars as pl

from pipeline.errors import UnreadableFileError
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare.header import BLANK_HEADER, DELIMITERS, Header, column_name
from pipeline.prepare.records import blank_records, blank_records_in, first_bare_cr

_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}


@dataclass(frozen=True)
class CsvText:
    """UTF-8 CSV text to parse: a file, or bytes holding the lines up to the header and then whole records."""

    source: Path | bytes
    header: Header
    # The input file, named in messages.
    path: Path
    # The spreadsheet row of the first record after the header.
    first_row: int

    @classmethod
    def whole(cls, source: Path, header: Header, path: Path) -> CsvText:
        return cls(source, header, path, header.row + 1)

    @property
    def row_offset(self) -> int:
        """What turns a record number counted from the first line after ``sep=`` into a spreadsheet row."""
        return self.first_row - self.header.row - 1

    def open_rows(self) -> TextIO:
        """The text, positioned after Excel's ``sep=`` line if any, so record 1 is the first row."""
        if isinstance(self.source, bytes):
            f: TextIO = io.TextIOWrapper(io.BytesIO(self.source), encoding="utf-8-sig", newline="")
        else:
            f = self.source.open(encoding="utf-8-sig", newline="")
        for _ in range(self.header.skip_lines):
            f.readline()
        return f

    def blank_records(self) -> tuple[set[int], int]:
        if isinstance(self.source, bytes):
            return blank_records_in(self.source)
        return blank_records(self.source)


def reject_bare_carriage_returns(source: Path, header: Header, path: Path) -> None:
    """Refuse a carriage return outside quotes that is not part of CRLF (see :mod:`.read`)."""
    found = first_bare_cr(source)
    if found is not None:
        offset, record = found
        raise UnreadableFileError(
            f"{path}: row {record + 1 - header.skip_lines}: a line ends with a bare carriage return (byte "
            f"offset {offset}) while the others end with LF or CRLF; a spreadsheet would split that row "
            "where this tool cannot tell: save the file again with one kind of line end"
        )


def parse(text: CsvText, whole: CsvText) -> tuple[pl.DataFrame, int | None]:
    """The text columns of ``text``, and how many rows had empty fields beyond the header (None: no row had).

    ``whole`` is the whole file, scanned for the first misplaced quote when polars refuses ``text``.
    """
    header = text.header

    def read(truncate: bool) -> pl.DataFrame:
        source = text.source
        return pl.read_csv(
            # An absolute path, so polars never takes a name for a URL or a home folder; glob=False, so
            # brackets, stars and question marks in it are plain characters.
            source if isinstance(source, bytes) else os.path.abspath(source),
            glob=False,
            skip_lines=header.skip_lines,
            separator=header.delimiter,
            has_header=True,
            infer_schema=False,
            quote_char='"',
            truncate_ragged_lines=truncate,
            raise_if_empty=False,
        )

    extra = None
    try:
        try:
            frame = read(truncate=False)
        except pl.exceptions.ComputeError as err:
            if "more fields than defined" not in str(err):
                raise
            extra = count_empty_extra_fields(text)
            frame = read(truncate=True)
    except pl.exceptions.PolarsError as err:
        problem = quote_problem(whole)
        if problem is not None:
            raise UnreadableFileError(f"{text.path}: not a valid CSV file: {problem}") from None
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnreadableFileError(f"{text.path}: not a valid CSV file ({reason})") from None
    if frame.width != len(header.names):
        raise UnreadableFileError(
            f"{text.path}: the header has {len(header.names)} columns but {frame.width} were parsed"
        )
    frame.columns = [column_name(name, i) for i, name in enumerate(header.names, start=1)]
    return frame, extra


def ragged_warning(extra: int) -> str:
    return f"{extra} row(s) end with empty fields beyond the last column; they were ignored"


def quote_problem(text: CsvText) -> str | None:
    """The first misplaced quote in the text, named by its spreadsheet row, or None when quotes are fine.

    Only called after polars refused the file, to say where: a slow character walk is fine there.
    """
    row = opened = 0
    quoted = closed = False
    start = True
    ends = (text.header.delimiter, "\r", "\n")
    with text.open_rows() as f:
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


def count_empty_extra_fields(text: CsvText) -> int:
    """Count rows whose fields beyond the header are all empty; raise on the first with data there."""
    width = len(text.header.names)
    found = 0
    with text.open_rows() as f:
        reader = csv.reader(f, delimiter=text.header.delimiter)
        row = text.row_offset
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
                            f"{text.path}: row {row} has {len(record)} fields but the header has {width}; "
                            "add headers for the extra columns or remove them"
                        )
                    found += 1
        except csv.Error as err:
            raise UnreadableFileError(f"{text.path}: not a valid CSV file near row {row} ({err})") from None
    return found


def number_rows(frame: pl.DataFrame, text: CsvText) -> pl.DataFrame:
    """Add ``source_row`` (polars' record index, as a spreadsheet counts) and drop the blank-line rows.

    polars keeps a blank line as an all-null row, which is also how it reads a row of empty cells (``,,``).
    Both are spreadsheet rows, so every polars row advances the row number. Only when a row is all null is
    the text scanned again to tell the two apart; the scan must count the records polars counted.
    """
    columns = frame.columns
    first = text.first_row
    numbered = frame.clone()  # shares the columns; the row numbers go in front without reordering a copy
    numbered.insert_column(
        0, pl.int_range(first, first + frame.height, dtype=pl.Int64, eager=True).alias(SOURCE_ROW)
    )
    # Cheap first: only rows whose first cell is empty can be blank lines; the wide check runs on those.
    first_empty = frame.get_column(columns[0]).is_null()
    if not first_empty.any():
        return numbered
    candidates = numbered.filter(first_empty)
    candidates = candidates.filter(pl.all_horizontal(pl.exclude(SOURCE_ROW).is_null()))
    if candidates.height == 0:
        return numbered
    blank, records = text.blank_records()
    header = text.header
    offset = header.skip_lines + header.leading_blank_lines  # record index of the header
    if records != offset + 1 + frame.height:
        raise UnreadableFileError(
            f"{text.path}: not a valid CSV file: its rows cannot be counted consistently ({records - offset} "
            f"records, {frame.height + 1} rows parsed); please report this file"
        )
    blank_rows = [row for row in candidates.get_column(SOURCE_ROW) if row - first + offset + 1 in blank]
    return numbered.filter(~pl.col(SOURCE_ROW).is_in(blank_rows))


def reject_other_delimiter_rows(frame: pl.DataFrame, text: CsvText) -> None:
    """Refuse rows written with another delimiter than the header's (see :func:`other_delimiter_row`)."""
    found = other_delimiter_row(frame, text)
    if found is not None:
        raise other_delimiter_error(text, *found)


def other_delimiter_row(frame: pl.DataFrame, text: CsvText) -> tuple[str, int] | None:
    """The first delimiter (in :data:`DELIMITERS` order) other than the header's that a row is written with,
    and the first such row; None when there is none.

    All of such a row lands in the first cell: it would otherwise be read as one long key with every other
    cell empty, and be imported. A row counts only when it has a single field (no header delimiter at all)
    that the other delimiter splits into as many fields as the header has: ``a;b,,`` is a cell holding
    ``a;b``, not a foreign row.
    """
    columns = [c for c in frame.columns if c != SOURCE_ROW]
    if len(columns) < 2:
        return None
    first, others = columns[0], columns[1:]
    rest_empty = pl.all_horizontal([pl.col(c).is_null() for c in others])
    for other in DELIMITERS:
        if other == text.header.delimiter:
            continue
        fields = pl.col(first).str.count_matches(other, literal=True) + 1
        suspects = frame.filter(rest_empty & (fields == len(columns))).get_column(SOURCE_ROW)
        row = _first_single_field_row(text, set(suspects.to_list())) if suspects.len() else None
        if row is not None:
            return other, row
    return None


def other_delimiter_error(text: CsvText, other: str, row: int) -> UnreadableFileError:
    return UnreadableFileError(
        f"{text.path}: row {row} is separated by {_DELIMITER_NAMES[other]} but the header by "
        f"{_DELIMITER_NAMES[text.header.delimiter]}; save the file with one delimiter throughout"
    )


def _first_single_field_row(text: CsvText, rows: set[int]) -> int | None:
    """The first of ``rows`` (spreadsheet row numbers) whose record has just one field."""
    last = max(rows)
    offset = text.row_offset
    with text.open_rows() as f:
        try:
            for record_number, record in enumerate(csv.reader(f, delimiter=text.header.delimiter), start=1):
                row = record_number + offset
                if row in rows and len(record) == 1:
                    return row
                if row >= last:
                    break
        except csv.Error:
            return None  # a cell too large for the csv module: polars read it, so leave it be
    return None


def blank_header_columns(frame: pl.DataFrame) -> list[str]:
    """The columns of ``frame`` whose header is blank."""
    return [c for c in frame.columns if c.startswith(BLANK_HEADER)]


def blank_header_position(name: str) -> str:
    return name.rsplit("_", 1)[-1]


def reject_data_without_header(frame: pl.DataFrame, path: Path) -> None:
    """Refuse the first column without a header that holds data in ``frame``."""
    name = first_blank_column_with_data(frame)
    if name is not None:
        raise data_without_header_error(path, name)


def first_blank_column_with_data(frame: pl.DataFrame) -> str | None:
    """The first column of ``frame`` whose header is blank but which holds data, or None."""
    for name in blank_header_columns(frame):
        if frame.get_column(name).str.strip_chars().replace("", None).null_count() != frame.height:
            return name
    return None


def data_without_header_error(path: Path, name: str) -> UnreadableFileError:
    return UnreadableFileError(f"{path}: column {blank_header_position(name)} holds data but has no header")


def ignored_column_warning(name: str) -> str:
    return f"column {blank_header_position(name)} has no header and no data; it was ignored"
