"""Read a CSV file a run of records at a time, holding one chunk in memory instead of the whole file.

The chunks together are exactly :func:`pipeline.prepare.read.read_table`'s frame: the same rows, row
numbers, column names and nulls, the same warnings, and the same error with the same message.

How
    The whole-file checks that are byte passes (encoding, NUL bytes, damaged UTF-8, the header, bare
    carriage returns) run in :func:`open_stream`, before any chunk is served, so most bad files fail before
    any work. The UTF-8 text is then cut at record ends the way polars cuts it (a LF ends a record iff an even
    number of ``"`` precede it, see :func:`.records.record_end`), so a quoted cell with line breaks is never
    split. Each run of records is parsed by polars from bytes, after the lines up to the header, so polars
    sees what it sees in the whole file; row numbers carry on from chunk to chunk, and the checks of
    :mod:`.csv_checks` run on every chunk. Warnings that count over the whole file (empty extra fields,
    columns without a header) are added once the last chunk is read.

Chunk size
    A chunk is cut at the first record end after ``rows`` times the average record size seen so far, so it
    holds about ``rows`` rows (at least one record; fewer rows when blank lines are dropped). Memory follows
    the chunk: the run's bytes and its frame (about 600 MB peak for 250,000 rows of 31 columns).

Errors met in a later chunk
    are raised after the earlier chunks were served. Once a refusal is met no more chunks are served, but
    the rest of the file is still checked so the refusal is the one read_table would give (see
    ``_ChunkReader._note_refusals``). Two messages can still differ in wording, both for files this reader
    has never been shown to produce: polars' own reason when it refuses a file for something other than a
    misplaced quote (it may quote the chunk's byte offset), and "its rows cannot be counted consistently"
    (counted in the chunk). For a file with both a misplaced quote and a row with data past the header,
    the one named is the one in the earlier chunk, where polars on the whole file may meet the other first.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

from pipeline.errors import UnreadableFileError
from pipeline.prepare.csv_checks import (
    CsvText,
    count_empty_extra_fields,
    data_without_header_error,
    first_blank_column_with_data,
    ignored_column_warning,
    number_rows,
    other_delimiter_error,
    other_delimiter_row,
    parse,
    ragged_warning,
)
from pipeline.prepare.header import BLANK_HEADER, DELIMITERS, STALE_SOURCE_ROW, Header, column_name
from pipeline.prepare.read import (
    STALE_SOURCE_ROW_WARNING,
    RawTable,
    is_report,
    no_data_rows,
    open_csv,
    read_regular_file,
)
from pipeline.prepare.records import record_end
from pipeline.prepare.sniff import is_workbook_file, regular_file
from pipeline.scratch import Scratch

READ_BYTES = 1 << 22
# Enough records to estimate the size of one before the first chunk is cut.
SAMPLE_BYTES = 1 << 16


@dataclass
class CsvStream:
    """A CSV file being read chunk by chunk (see :class:`pipeline.prepare.chunks.TableChunks`)."""

    headers: tuple[str, ...]
    encoding: str
    delimiter: str
    chunks: Iterator[pl.DataFrame]
    # Complete once ``chunks`` is exhausted.
    warnings: list[str] = field(default_factory=list)


def open_stream(
    path: Path, encoding: str | None, sheet: str | int | None, rows: int, *, checked: bool = False
) -> CsvStream | RawTable:
    """``path`` opened to be read ``rows`` rows at a time, or read whole when it is not a plain CSV file.

    A workbook and a reconciliation file fed back as input come back as a :class:`RawTable`: Excel caps a
    sheet at 1,048,576 rows, and a report fed back needs its outcome columns split off (``previous``).
    """
    scratch = Scratch("read")
    folder = scratch.path
    streaming = False
    try:
        data = regular_file(path, folder)
        if sheet is not None or is_workbook_file(data, path):
            return read_regular_file(path, data, folder, encoding, sheet)
        warnings: list[str] = []
        decoded, header = open_csv(path, data, folder, encoding, warnings, checked=checked)
        names = [column_name(name, i) for i, name in enumerate(header.names, start=1)]
        if is_report(names):
            return read_regular_file(path, data, folder, encoding, sheet)
        reader = _ChunkReader(CsvText.whole(decoded.source, header, path), rows, warnings)
        chunks = reader.chunks()
        # The scratch folder (a transcoded copy) goes once the chunks are read, or when they are dropped.
        reader.cleanup = weakref.finalize(chunks, scratch.close)
        streaming = True
    finally:
        if not streaming:
            scratch.close()
    headers = tuple(n for n in names if not _dropped(n))
    return CsvStream(headers, decoded.encoding, header.delimiter, chunks, warnings)


def _dropped(name: str) -> bool:
    """Whether a column is left out of the chunks: a blank header, or a ``source_row`` of another run."""
    return name.startswith(BLANK_HEADER) or name == STALE_SOURCE_ROW


class _ChunkReader:
    """The state carried from chunk to chunk: the next row number and what the warnings count."""

    def __init__(self, whole: CsvText, rows: int, warnings: list[str]) -> None:
        self.whole = whole
        self.rows = rows
        self.warnings = warnings
        self.next_row = whole.first_row
        self.extra: int | None = None
        self.served = 0
        self.records_read = 0
        self.bytes_read = 0
        self.cleanup: Callable[[], object] = lambda: None
        self.header_names = [column_name(name, i) for i, name in enumerate(whole.header.names, start=1)]
        # The refusal to raise once the rest of the file is checked, ranked as read_table would meet it.
        self.refusal: tuple[tuple[int, int], UnreadableFileError] | None = None

    @property
    def header(self) -> Header:
        return self.whole.header

    def chunks(self) -> Iterator[pl.DataFrame]:
        try:
            source = self.whole.source
            assert isinstance(source, Path)
            with source.open("rb") as f:
                prefix, start = _lines_to_header(f, self.header)
                runs = _RecordRuns(f, start, prefix)
                while (text := runs.next(self._run_bytes(runs.sampled))) is not None:
                    frame = self._frame(text, len(text) - len(prefix))
                    del text  # not alive while the caller works on the frame
                    if frame.height and self.refusal is None:
                        self.served += frame.height
                        yield frame
            if self.refusal is not None:
                raise self.refusal[1]
            self._finish()
        finally:
            self.cleanup()

    def _run_bytes(self, sampled: float) -> int:
        """How many bytes make about ``rows`` records: measured on the chunks read, or on a sample."""
        size = self.bytes_read / self.records_read if self.records_read else sampled
        return max(1, int(self.rows * size))

    def _frame(self, text_bytes: bytes, run_bytes: int) -> pl.DataFrame:
        """One chunk through the checks :func:`read_table` runs on the whole file, in the same order."""
        text = CsvText(text_bytes, self.header, self.whole.path, self.next_row)
        frame, extra = parse(text, self.whole)
        if extra is None and self.extra is not None and not text_bytes.endswith(b"\n"):
            # polars takes extra fields silently on a last record without a line end, unless another
            # row made it count them all: in the whole file, an earlier chunk's row did.
            extra = count_empty_extra_fields(text)
        if extra is not None:
            self.extra = (self.extra or 0) + extra
        records = frame.height
        frame = number_rows(frame, text)
        self._note_refusals(frame, text)
        self.next_row += records
        self.records_read += records
        self.bytes_read += run_bytes
        return frame.drop([c for c in frame.columns if _dropped(c)])

    def _note_refusals(self, frame: pl.DataFrame, text: CsvText) -> None:
        """Keep the refusal of this chunk that :func:`read_table` would raise before the one kept so far.

        read_table refuses a row with another delimiter (the first delimiter in DELIMITERS order, then the
        first row) before a column without a header that holds data (the leftmost): once one is met, the
        rest of the file is still parsed, unserved, so the refusal is the one read_table words.
        """
        found = other_delimiter_row(frame, text)
        if found is not None:
            rank = (0, DELIMITERS.index(found[0]))
            if self.refusal is None or rank < self.refusal[0]:
                self.refusal = rank, other_delimiter_error(text, *found)
        name = first_blank_column_with_data(frame)
        if name is not None:
            rank = (1, self.header_names.index(name))
            if self.refusal is None or rank < self.refusal[0]:
                self.refusal = rank, data_without_header_error(text.path, name)

    def _finish(self) -> None:
        names = [column_name(name, i) for i, name in enumerate(self.header.names, start=1)]
        if self.extra is not None:
            self.warnings.append(ragged_warning(self.extra))
        self.warnings.extend(ignored_column_warning(n) for n in names if n.startswith(BLANK_HEADER))
        if STALE_SOURCE_ROW in names:
            self.warnings.append(STALE_SOURCE_ROW_WARNING)
        if self.served == 0:
            raise UnreadableFileError(no_data_rows(self.whole.path))


def _lines_to_header(f: BinaryIO, header: Header) -> tuple[bytes, int]:
    """The bytes up to and including the header record, and the offset where the data records start."""
    buffer = bytearray()
    pos = quotes = 0
    start = 0
    for _ in range(header.skip_lines + header.leading_blank_lines + 1):
        while True:
            end, pos, quotes = record_end(buffer, pos, quotes, start)
            if end >= 0 or not (more := f.read(READ_BYTES)):
                break
            buffer += more
        if end < 0:
            return bytes(buffer), len(buffer)  # the header is the last record: there are no data rows
        start, pos, quotes = end, end, 0
    return bytes(buffer[:start]), start


class _RecordRuns:
    """The file from a record start on, taken a run of whole records at a time, each after ``prefix``.

    The file is read in blocks that are scanned for the cut while they are fresh in the cache, then joined
    once into the run polars parses. Not a generator on purpose: a suspended generator would keep its last
    run alive while the caller works on the frame parsed from it.
    """

    def __init__(self, f: BinaryIO, start: int, prefix: bytes) -> None:
        f.seek(start)
        self.f = f
        self.prefix = prefix
        # The rest of the last block read: the start of the next run.
        self.block = f.read(READ_BYTES)
        self.offset = 0
        sample = self.block[:SAMPLE_BYTES]
        # The average record size of a sample, until runs have been parsed.
        self.sampled = len(sample) / max(1, sample.count(b"\n"))
        self.started = self.ended = False

    def next(self, want: int) -> bytes | None:
        """``prefix`` and the next records up to the first record end at or after ``want`` bytes."""
        if self.ended:
            return None
        parts: list[bytes | memoryview] = [self.prefix]
        block, start, base, quotes = self.block, self.offset, 0, 0
        while True:
            at_least = max(start, start + want - 1 - base)
            end, _, quotes = record_end(block, start, quotes, at_least)
            if end >= 0:
                parts.append(memoryview(block)[start:end])
                self.block, self.offset, self.started = block, end, True
                return b"".join(parts)
            parts.append(memoryview(block)[start:])
            base += len(block) - start
            block, start = self.f.read(READ_BYTES), 0
            if not block:
                break
        self.ended = True
        if base or not self.started:
            return b"".join(parts)  # the last records (or none at all: a header only)
        return None
