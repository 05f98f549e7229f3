"""The header row: where it is, which delimiter it uses, its names, and the form names are compared in.

Header names are compared by :func:`header_key`: Unicode NFC, zero-width characters removed, every Unicode
space (no-break space U+00A0, figure space U+2007, narrow no-break space U+202F, ideographic space U+3000,
tabs, ...) as a plain space, runs of spaces as one, trimmed and case-folded. So ``Contact\\u00a0First Name``
is ``Contact First Name``.

Excel's ``sep=;`` first line
    names the delimiter and is not a row: Excel hides it, so the header after it is row 1, as Excel shows.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.csvsafe import unescape
from pipeline.errors import UnreadableFileError
from pipeline.outcomes import SOURCE_ROW

DELIMITERS = (",", ";", "\t")
# Enough to hold any sane header record.
HEAD_BYTES = 1 << 20
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_SPACES = re.compile(r"\s+")
_SEP_LINE = re.compile(r"sep=(.)\r?\n", re.IGNORECASE)
BLANK_HEADER = "__blank_header_"
# A previous run's row number (a report fed back) would clash with the one the reader computes.
STALE_SOURCE_ROW = "__previous_source_row"


def header_key(header: str) -> str:
    """The form headers are compared in: NFC, no zero-width characters, one plain space, case-folded."""
    return tidy_header(header).casefold()


def tidy_header(header: str) -> str:
    """``header`` in NFC, without zero-width characters, its spaces as single plain spaces, trimmed."""
    text = unicodedata.normalize("NFC", header)
    text = text.translate(dict.fromkeys(map(ord, _ZERO_WIDTH)))
    return _SPACES.sub(" ", text).strip()


def clean_header(name: str) -> str:
    """A header name as shown back to the user: NFC, without surrounding spaces or zero-width characters.

    A header we wrote formula-escaped (a report fed back with --only-failed) is read at its value, as its
    cells are (see :mod:`pipeline.csvsafe`), so it maps as before and is escaped once again, not twice.
    """
    return unescape(unicodedata.normalize("NFC", name).strip().strip(_ZERO_WIDTH).strip())


def column_name(name: str, position: int | str) -> str:
    """The frame column for header ``name`` at ``position``: blank headers and ``source_row`` renamed."""
    if not name:
        return f"{BLANK_HEADER}{position}"
    return STALE_SOURCE_ROW if name == SOURCE_ROW else name


@dataclass(frozen=True)
class Header:
    """The header record of a file and where it sits."""

    names: tuple[str, ...]
    delimiter: str
    # Lines before the header that are not rows: Excel's ``sep=`` line.
    skip_lines: int
    # Blank lines between those and the header: rows a spreadsheet shows.
    leading_blank_lines: int

    @property
    def row(self) -> int:
        """The spreadsheet row of the header."""
        return self.leading_blank_lines + 1


def read_header(source: Path, path: Path) -> Header:
    """Find the header record of the UTF-8 file ``source`` (the input ``path``, named in messages)."""
    with source.open("rb") as f:
        window = f.read(HEAD_BYTES)
        whole = not f.read(1)
    head = codecs.getincrementaldecoder("utf-8-sig")(errors="replace").decode(window)
    hint, skip, head = _sep_hint(head, path)
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
    delimiter = hint or max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    reader = csv.reader(io.StringIO(record, newline=""), delimiter=delimiter)
    try:
        names = tuple(clean_header(name) for name in next(reader, []))
    except csv.Error as err:
        raise UnreadableFileError(f"{path}: the header row cannot be read ({err})") from None
    if not any(names):
        raise UnreadableFileError(f"{path}: no header row (the first row has no column names)")
    reject_duplicates(names, path)
    return Header(names, delimiter, skip, blank)


def _sep_hint(head: str, path: Path) -> tuple[str | None, int, str]:
    """Excel's ``sep=X`` first line: the delimiter it names, the lines to skip, and the text after it."""
    match = _SEP_LINE.match(head)
    if match is None:
        return None, 0, head
    delimiter = match.group(1)
    if delimiter not in DELIMITERS:
        raise UnreadableFileError(
            f"{path}: row 1: the line 'sep={delimiter}' names a delimiter this tool does not read; "
            "use comma, semicolon or tab"
        )
    return delimiter, 1, head[match.end() :]


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


def reject_duplicates(names: tuple[str, ...], path: Path, label: Callable[[int], str] = str) -> None:
    """Refuse two columns whose headers match alike; ``label`` names a 1-based column position."""
    # Headers are matched by header_key later, so "Email" and " email" are as ambiguous as two "Email".
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        if name:
            positions.setdefault(header_key(name), []).append(i)
    for cols in positions.values():
        if len(cols) > 1:
            where = ", ".join(label(c) for c in cols[:-1]) + f" and {label(cols[-1])}"
            raise UnreadableFileError(
                f"{path}: the header {names[cols[0] - 1]!r} appears in columns {where}; "
                "a file with two such columns is ambiguous"
            )
