"""Read a spreadsheet CSV into the raw frame: every column as text, plus each row's spreadsheet row number.

What the reader accepts
    Encodings: UTF-8 with or without a byte-order mark, UTF-16 LE/BE with a byte-order mark, and
    Windows-1252 as a fallback when the bytes are not valid UTF-8 (with a warning, because the guess can be
    wrong). Delimiters ``,`` ``;`` and tab, detected from the header record (outside quotes). Quoted fields
    with embedded newlines, ``""`` escapes, LF and CRLF line ends (not the CR-only ends of classic Mac OS).

Row numbers (``source_row``)
    The row a spreadsheet shows: each CSV record is one row, even when a quoted cell spans several lines,
    and a blank line is a row of its own (Excel shows it) but yields no data row. The header is row 1 unless
    blank lines precede it, in which case it is the row after them.

Ragged rows
    A row with fewer fields than the header gets null for the missing cells. A row with more fields is
    accepted only when the extra fields are empty (a trailing ``,`` that some exports add); a non-empty extra
    field makes the file unreadable, naming the first such row, because its cells cannot be attributed to a
    column.

Large files stay in polars: non-UTF-8 input is transcoded to a temporary UTF-8 file in chunks, the CSV is
parsed by polars, and row numbers are computed with frame expressions. Python only touches the header and,
when a row has too many fields, the file again to name that row.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import UnreadableFileError
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW

DELIMITERS = (",", ";", "\t")
# Enough to hold any sane header record; also the window the binary-content check looks at.
HEAD_BYTES = 1 << 20
SNIFF_BYTES = 8 * 1024
CHUNK_BYTES = 1 << 20
# A text file has almost no C0 control characters besides tab, CR and LF; a few strays (a vertical tab from
# a spreadsheet cell) are tolerated.
MAX_CONTROL_SHARE = 0.05
MIN_CONTROL_BYTES = 8
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 13}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
_BLANK = "__blank_header_{}"
_STALE_SOURCE_ROW = "__previous_source_row"


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


@dataclass(frozen=True)
class _Header:
    names: tuple[str, ...]
    delimiter: str
    leading_blank_lines: int
    physical_lines: int


def read_table(path: str | Path) -> RawTable:
    """Read ``path`` into a :class:`RawTable`; raise :class:`UnreadableFileError` when it cannot be used."""
    path = Path(path)
    _check_file(path)
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="contacts-pipeline-read-") as tmp:
        source, encoding = _as_utf8(path, Path(tmp) / "utf8.csv", warnings)
        header = _read_header(source, path)
        frame = _parse(source, header, path, warnings)
        frame = _number_rows(frame, source, header)
        _reject_other_delimiter_rows(frame, source, header.delimiter, path)
    frame = _drop_blank_header_columns(frame, path, warnings)
    frame, previous = _split_outcome_columns(frame, warnings)
    if frame.height == 0:
        raise UnreadableFileError(f"{path}: the file has a header but no data rows")
    headers = tuple(c for c in frame.columns if c != SOURCE_ROW)
    return RawTable(
        frame=frame,
        headers=headers,
        path=path,
        encoding=encoding,
        delimiter=header.delimiter,
        warnings=tuple(warnings),
        previous=previous,
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise UnreadableFileError(f"{path}: no such file")
    if path.is_dir():
        raise UnreadableFileError(f"{path}: is a directory, not a CSV file")
    if path.stat().st_size == 0:
        raise UnreadableFileError(f"{path}: the file is empty")


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def _as_utf8(path: Path, scratch: Path, warnings: list[str]) -> tuple[Path, str]:
    """The path of a UTF-8 copy of the file (the file itself when it already is UTF-8) and its encoding."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            if encoding.startswith("utf-16"):
                _transcode(path, scratch, "utf-16", encoding)
                return scratch, encoding
            if _first_invalid_utf8(path) is not None:
                raise UnreadableFileError(
                    f"{path}: starts with a UTF-8 byte-order mark but is not valid UTF-8"
                )
            return path, encoding
    _reject_binary(path, head)
    bad_byte = _first_invalid_utf8(path)
    if bad_byte is None:
        return path, "utf-8"
    _transcode(path, scratch, "cp1252", "Windows-1252")
    warnings.append(
        f"{path.name} is not valid UTF-8 (byte offset {bad_byte}); read it as Windows-1252: "
        "check accented characters, or save the file as UTF-8"
    )
    return scratch, "cp1252"


def _reject_binary(path: Path, head: bytes) -> None:
    if b"\x00" in head:
        raise UnreadableFileError(
            f"{path}: binary content (NUL bytes), not a CSV file; UTF-16 files need a byte-order mark"
        )
    controls = sum(1 for b in head if b in _CONTROL_BYTES)
    if controls >= MIN_CONTROL_BYTES and controls / len(head) > MAX_CONTROL_SHARE:
        raise UnreadableFileError(f"{path}: binary content (control characters), not a CSV file")


def _first_invalid_utf8(path: Path) -> int | None:
    """The offset of the first byte that is not valid UTF-8, or None when the whole file is."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    try:
        for chunk in _chunks(path):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        # The decoder buffers an incomplete sequence from the previous chunk; start is relative to that.
        pending = len(decoder.getstate()[0])
        return max(0, offset - pending + err.start)
    return None


def _transcode(path: Path, target: Path, codec: str, label: str) -> None:
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        with target.open("w", encoding="utf-8", newline="") as out:
            for chunk in _chunks(path):
                out.write(decoder.decode(chunk))
            out.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as err:
        raise UnreadableFileError(f"{path}: cannot be decoded as {label} ({err.reason})") from None


def _read_header(source: Path, path: Path) -> _Header:
    with source.open("rb") as f:
        window = f.read(HEAD_BYTES)
        whole = not f.read(1)
    head = codecs.getincrementaldecoder("utf-8-sig")(errors="replace").decode(window)
    start, blank = 0, 0
    while True:
        end = head.find("\n", start)
        line = head[start:] if end < 0 else head[start:end]
        if line.strip("\r") or end < 0:
            break
        start, blank = end + 1, blank + 1
    rest = head[start:]
    record, counts = _first_record(rest)
    if not record.strip():
        raise UnreadableFileError(f"{path}: the file is empty")
    if "\n" not in rest and "\r" in record.strip("\r"):
        raise UnreadableFileError(
            f"{path}: lines end with a bare carriage return (classic Mac OS line ends); "
            "save the file with Windows (CRLF) or Unix (LF) line ends"
        )
    if not whole and len(record) >= len(rest.removesuffix("\r")):
        # The header record did not end within the window: a text with no line ends, or not a CSV at all.
        raise UnreadableFileError(
            f"{path}: the first row has no line end within its first {HEAD_BYTES // (1 << 20)} MB; "
            "this is not a CSV header row"
        )
    delimiter = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    reader = csv.reader(io.StringIO(record, newline=""), delimiter=delimiter)
    try:
        names = tuple(_clean(name) for name in next(reader, []))
    except csv.Error as err:
        raise UnreadableFileError(f"{path}: the header row cannot be read ({err})") from None
    if not any(names):
        raise UnreadableFileError(f"{path}: no header row (the first row has no column names)")
    _reject_duplicates(names, path)
    return _Header(names, delimiter, blank, record.count("\n") + 1)


def _first_record(text: str) -> tuple[str, dict[str, int]]:
    """The first CSV record of ``text`` (up to its line end outside quotes) and its delimiter counts."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch == "\n":
                return text[:i].removesuffix("\r"), counts
            if ch in counts:
                counts[ch] += 1
    return text.removesuffix("\r"), counts


def _clean(name: str) -> str:
    return name.strip().strip("\ufeff").strip()


def _reject_duplicates(names: tuple[str, ...], path: Path) -> None:
    # Headers are matched case-insensitively later, so "Email" and "email" are as ambiguous as two "Email".
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        if name:
            positions.setdefault(name.casefold(), []).append(i)
    for cols in positions.values():
        if len(cols) > 1:
            where = ", ".join(str(c) for c in cols[:-1]) + f" and {cols[-1]}"
            raise UnreadableFileError(
                f"{path}: the header {names[cols[0] - 1]!r} appears in columns {where}; "
                "a file with two such columns is ambiguous"
            )


def _parse(source: Path, header: _Header, path: Path, warnings: list[str]) -> pl.DataFrame:
    def read(truncate: bool) -> pl.DataFrame:
        return pl.read_csv(
            source,
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
        problem = _quote_problem(source, header.delimiter)
        if problem is not None:
            raise UnreadableFileError(f"{path}: not a valid CSV file: {problem}") from None
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnreadableFileError(f"{path}: not a valid CSV file ({reason})") from None
    if frame.width != len(header.names):
        raise UnreadableFileError(
            f"{path}: the header has {len(header.names)} columns but {frame.width} were parsed"
        )
    frame.columns = [_column_name(name, i) for i, name in enumerate(header.names, start=1)]
    return frame


def _quote_problem(source: Path, delimiter: str) -> str | None:
    """The first misplaced quote in the file, named by its spreadsheet row, or None when quotes are fine.

    Only called after polars refused the file, to say where: a slow character walk is fine there.
    """
    row = opened = 0
    quoted = closed = False
    start = True
    ends = (delimiter, "\r", "\n")
    with source.open(encoding="utf-8-sig", newline="") as f:
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


def _column_name(name: str, position: int) -> str:
    if not name:
        return _BLANK.format(position)
    # A previous run's row number would clash with the one computed here; it is dropped later.
    return _STALE_SOURCE_ROW if name == SOURCE_ROW else name


def _count_empty_extra_fields(source: Path, header: _Header, path: Path) -> int:
    """Count rows whose fields beyond the header are all empty; raise on the first with data there."""
    width = len(header.names)
    found = 0
    with source.open(encoding="utf-8-sig", newline="") as f:
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


def _number_rows(frame: pl.DataFrame, source: Path, header: _Header) -> pl.DataFrame:
    """Add ``source_row`` and drop the rows polars made of blank lines.

    polars keeps a blank line as an all-null row, which is also how it reads a row of empty cells
    (``,,``). Both are spreadsheet rows, so every polars row advances the row number; to tell them apart,
    each row's first physical line is computed from the newlines inside its cells, and an all-null row is a
    blank line when that physical line is empty.
    """
    columns = frame.columns
    header_row = header.leading_blank_lines + 1
    first_line = header.leading_blank_lines + header.physical_lines  # 0-based line of the first data row
    embedded = pl.sum_horizontal(
        [pl.col(c).str.count_matches("\n").fill_null(0).cast(pl.Int64) for c in columns]
    )
    numbered = frame.with_columns(
        pl.int_range(header_row + 1, header_row + 1 + pl.len(), dtype=pl.Int64).alias(SOURCE_ROW),
        (first_line + (1 + embedded).cum_sum() - (1 + embedded)).alias("__line"),
        pl.all_horizontal([pl.col(c).is_null() for c in columns]).alias("__all_null"),
    )
    if numbered.get_column("__all_null").any():
        blank_lines = (
            pl.scan_lines(source, name="line", row_index_name="__line")
            .filter(pl.col("line").str.strip_chars_end("\r") == "")
            .select(pl.col("__line").cast(pl.Int64))
            .collect()
            .get_column("__line")
        )
        numbered = numbered.filter(~(pl.col("__all_null") & pl.col("__line").is_in(blank_lines.implode())))
    return numbered.select(SOURCE_ROW, *columns)


def _reject_other_delimiter_rows(frame: pl.DataFrame, source: Path, delimiter: str, path: Path) -> None:
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
    for other in DELIMITERS:
        if other == delimiter:
            continue
        fields = pl.col(first).str.count_matches(other, literal=True) + 1
        suspects = frame.filter(rest_empty & (fields == len(columns))).get_column(SOURCE_ROW)
        row = _first_single_field_row(source, delimiter, set(suspects.to_list())) if suspects.len() else None
        if row is not None:
            raise UnreadableFileError(
                f"{path}: row {row} is separated by {_DELIMITER_NAMES[other]} but the header by "
                f"{_DELIMITER_NAMES[delimiter]}; save the file with one delimiter throughout"
            )


def _first_single_field_row(source: Path, delimiter: str, rows: set[int]) -> int | None:
    """The first of ``rows`` (spreadsheet row numbers) whose record has just one field."""
    last = max(rows)
    with source.open(encoding="utf-8-sig", newline="") as f:
        try:
            for row, record in enumerate(csv.reader(f, delimiter=delimiter), start=1):
                if row in rows and len(record) == 1:
                    return row
                if row >= last:
                    break
        except csv.Error:
            return None  # a cell too large for the csv module: polars read it, so leave it be
    return None


def _drop_blank_header_columns(frame: pl.DataFrame, path: Path, warnings: list[str]) -> pl.DataFrame:
    blank = [c for c in frame.columns if c.startswith("__blank_header_")]
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
    stale = [c for c in frame.columns if (is_report and c in OUTCOME_COLUMNS[1:]) or c == _STALE_SOURCE_ROW]
    if not is_report:
        if stale:
            warnings.append(f"the column {SOURCE_ROW!r} was ignored: the tool numbers rows itself")
        return frame.drop(stale), None
    names = [SOURCE_ROW if c == _STALE_SOURCE_ROW else c for c in stale]
    warnings.append("outcome columns of a previous run were ignored: " + ", ".join(names))
    previous = frame.select(
        SOURCE_ROW,
        *(
            pl.col(c) if c in frame.columns else pl.lit(None, dtype=pl.String).alias(c)
            for c in OUTCOME_COLUMNS[1:]
        ),
    )
    return frame.drop(stale), previous
