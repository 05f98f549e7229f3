"""Where CSV records end: the line ends outside quoted cells, in the bytes of a UTF-8 file.

polars splits the file into records and numbers the rows (see :mod:`pipeline.prepare.read`). This scanner
follows the same rule (a ``"`` at the start of a cell opens a quoted cell, ``""`` inside it is a quote, LF or
CRLF outside quotes ends a record) and is used only where polars cannot answer:

- before polars runs, to refuse a bare carriage return outside quotes, which polars would keep inside a cell
  while a spreadsheet ends the row there (so the two would disagree about every following row);
- to tell a blank line from a row of empty cells (polars reads both as an all-null row);
- to name the row of a byte offset in an error message (a NUL byte, an undecodable byte).

Only LF, CRLF and bare CR are tokens here; a ``"`` toggles the quote state. On a file polars parsed without
error every quote sits at a cell boundary, so toggling on each quote is exactly polars' rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1 << 20
_TOKENS = re.compile(rb'"|\r\n|\r|\n')


def _line_ends(path: Path, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line end)`` for every line end outside quotes (bare CRs included), up to ``stop``."""
    with path.open("rb") as f:
        yield from _line_ends_in(_chunks_with_cr_lookahead(f), stop)


def _line_ends_in(chunks: Iterable[bytes], stop: int | None = None) -> Iterator[tuple[int, bytes]]:
    quoted = False
    base = 0
    for chunk in chunks:
        for match in _TOKENS.finditer(chunk):
            offset = base + match.start()
            if stop is not None and offset >= stop:
                return
            token = match.group()
            if token == b'"':
                quoted = not quoted
            elif not quoted:
                yield offset, token
        base += len(chunk)


def record_at(path: Path, offset: int) -> int:
    """The 0-based index of the record holding the byte at ``offset``."""
    return sum(1 for _ in _line_ends(path, stop=offset))


def first_bare_cr(path: Path) -> tuple[int, int] | None:
    """``(offset, record index)`` of the first carriage return outside quotes not followed by LF, or None."""
    with path.open("rb") as f:
        # A chunk without any CR (every chunk of an LF file) skips the regex: ``in`` is a memchr.
        if not any(b"\r" in c and re.search(rb"\r(?!\n)", c) for c in _chunks_with_cr_lookahead(f)):
            return None  # the common case: no bare CR at all, so no need to walk the quotes
    for record, (offset, token) in enumerate(_line_ends(path)):
        if token == b"\r":
            return offset, record
    return None


def _chunks_with_cr_lookahead(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK_BYTES):
        if chunk.endswith(b"\r"):
            chunk += f.read(1)
        yield chunk


def blank_records(path: Path) -> tuple[set[int], int]:
    """The 0-based indices of empty records (blank lines) and the number of records in the file."""
    with path.open("rb") as f:
        return _blank_records(_chunks_with_cr_lookahead(f))


def blank_records_in(data: bytes) -> tuple[set[int], int]:
    """:func:`blank_records` of text already in memory (a slice of a file read chunk by chunk)."""
    return _blank_records((data,))


def _blank_records(chunks: Iterable[bytes]) -> tuple[set[int], int]:
    blank: set[int] = set()
    start = 0
    count = 0
    size = 0

    def measured() -> Iterator[bytes]:
        nonlocal size
        for chunk in chunks:
            size += len(chunk)
            yield chunk

    for count, (offset, token) in enumerate(_line_ends_in(measured()), start=1):
        if offset == start:
            blank.add(count - 1)
        start = offset + len(token)
    if size > start:
        count += 1  # a last record without a line end
    return blank, count


def record_end(data: bytes | bytearray, pos: int, quotes: int, at_least: int) -> tuple[int, int, int]:
    """Find the first record of ``data`` that ends at or after offset ``at_least``.

    The scan resumes at ``pos`` with ``quotes`` the number of ``"`` between the last record start and
    ``pos`` (0 and the record start for a fresh search). Returns ``(end, pos, quotes)``: ``end`` is the
    offset after that record's line end, or -1 when ``data`` holds none yet, in which case ``pos`` and
    ``quotes`` resume the search once more data is appended, so no byte is scanned twice. polars cuts
    records by the same rule: a LF ends a record iff an even number of ``"`` precede it.
    """
    line_end = data.find(b"\n", max(pos, at_least))
    while line_end >= 0:
        quotes += data.count(b'"', pos, line_end)
        pos = line_end
        if quotes % 2 == 0:
            return line_end + 1, pos, quotes
        line_end = data.find(b"\n", line_end + 1)
    quotes += data.count(b'"', pos)
    return -1, len(data), quotes
