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
fields, the file again (see :mod:`.records`). The checks on what polars parsed live in :mod:`.csv_checks`,
shared with the chunked reader (:mod:`.stream`, behind :func:`.chunks.open_chunks`) that reads a file too
large for memory a run of records at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import ConfigError, UnreadableFileError
from pipeline.outcomes import OLD_OUTCOME_NAMES, OUTCOME_COLUMNS, RUN_COLUMNS, SOURCE_ROW
from pipeline.prepare.csv_checks import (
    CsvText,
    blank_header_columns,
    ignored_column_warning,
    number_rows,
    parse,
    ragged_warning,
    reject_bare_carriage_returns,
    reject_data_without_header,
    reject_other_delimiter_rows,
)
from pipeline.prepare.header import STALE_SOURCE_ROW, Header, read_header
from pipeline.prepare.sniff import WORKBOOK_SUFFIXES, Decoded, decode, is_workbook_file, regular_file
from pipeline.prepare.workbook import read_sheet
from pipeline.scratch import Scratch

WORKBOOK_ENCODING = "xlsx"


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
    with Scratch("read") as scratch:
        return read_regular_file(path, regular_file(path, scratch), scratch, encoding, sheet)


def read_regular_file(
    path: Path, data: Path, scratch: Path, encoding: str | None, sheet: str | int | None
) -> RawTable:
    """:func:`read_table` of ``data``, the bytes of ``path`` as a regular file, with a folder for scratch."""
    warnings: list[str] = []
    sheet_name = None
    if is_workbook_file(data, path):
        if encoding is not None:
            raise ConfigError(f"--encoding does not apply to {path}: it is an Excel workbook")
        frame, sheet_name, found = read_sheet(path, data, sheet)
        warnings.extend(found)
        used, delimiter = WORKBOOK_ENCODING, ""
    else:
        if sheet is not None:
            raise ConfigError(f"--sheet applies to Excel workbooks (.xlsx); {path} is not one")
        frame, used, delimiter = _read_csv(path, data, scratch, encoding, warnings)
    frame = _drop_blank_header_columns(frame, path, warnings)
    frame, previous = _split_outcome_columns(frame, warnings)
    if frame.height == 0:
        raise UnreadableFileError(no_data_rows(path, sheet_name))
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


def no_data_rows(path: Path, sheet_name: str | None = None) -> str:
    where = "the file" if sheet_name is None else f"the sheet {sheet_name!r}"
    return f"{path}: {where} has a header but no data rows"


def _read_csv(
    path: Path, data: Path, scratch: Path, encoding: str | None, warnings: list[str]
) -> tuple[pl.DataFrame, str, str]:
    """The CSV file's text columns with ``source_row``, its encoding and its delimiter."""
    decoded, header = open_csv(path, data, scratch, encoding, warnings)
    text = CsvText.whole(decoded.source, header, path)
    frame, extra = parse(text, text)
    if extra is not None:
        warnings.append(ragged_warning(extra))
    frame = number_rows(frame, text)
    reject_other_delimiter_rows(frame, text)
    return frame, decoded.encoding, header.delimiter


def open_csv(
    path: Path,
    data: Path,
    scratch: Path,
    encoding: str | None,
    warnings: list[str],
    *,
    checked: bool = False,
) -> tuple[Decoded, Header]:
    """The whole-file checks before any row is parsed: the encoding, the header, the line ends.

    ``checked``: the same file, unchanged, passed them before (read again for its report) and
    ``encoding`` is the one found then: the scans of every byte are not run again.
    """
    decoded = decode(path, data, scratch, encoding, checked=checked)
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        raise UnreadableFileError(
            f"{path}: is named {path.suffix} but is not an Excel workbook; if it is a CSV file, name it .csv"
        )
    if decoded.warning:
        warnings.append(decoded.warning)
    header = read_header(decoded.source, path)
    if not checked:
        reject_bare_carriage_returns(decoded.source, header, path)
    return decoded, header


def _drop_blank_header_columns(frame: pl.DataFrame, path: Path, warnings: list[str]) -> pl.DataFrame:
    reject_data_without_header(frame, path)
    blank = blank_header_columns(frame)
    warnings.extend(ignored_column_warning(name) for name in blank)
    return frame.drop(blank)


STALE_SOURCE_ROW_WARNING = f"the column {SOURCE_ROW!r} was ignored: the tool numbers rows itself"


def is_report(columns: list[str]) -> bool:
    """Whether columns are a reconciliation file's, fed back as input (its outcome columns are dropped)."""
    # Both status columns must be there: a CRM export may well have a column called `contact_id`.
    return {"organization_status", "contact_status"} <= set(columns)


def _split_outcome_columns(
    frame: pl.DataFrame, warnings: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    report = is_report(frame.columns)
    report_columns = {*OUTCOME_COLUMNS[1:], *RUN_COLUMNS, *OLD_OUTCOME_NAMES}
    stale = [c for c in frame.columns if (report and c in report_columns) or c == STALE_SOURCE_ROW]
    if not report:
        if stale:
            warnings.append(STALE_SOURCE_ROW_WARNING)
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
