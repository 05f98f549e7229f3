"""Spreadsheet formula-injection safety for every CSV this tool writes, and its inverse for reading back.

A spreadsheet runs a cell as a formula when it begins with ``=``, ``+``, ``-`` or ``@`` (and some also
after a leading tab or carriage return). Such a cell is written with a single quote in front, which
spreadsheets display as text and which :func:`unescape` removes when the file comes back as input.
Headers are cells too: they are escaped the same way, and the reader unescapes them.

``+`` and ``-`` followed by a plain number (``+14155550123``, ``-12.5``) stay as they are: spreadsheets read
them as numbers, and E.164 phones must survive export untouched.

To make the round trip exact for every text, a value that already starts with quotes followed by something
dangerous (``'=A1``) gets one more quote too: the rule looks past any leading quotes, so :func:`unescape`
only ever removes a quote that :func:`escape` could have added.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

import polars as pl

from pipeline.files import atomic_path

PREFIX = "'"
BOM = "\ufeff".encode()
_FORMULA_STARTS = ("=", "@", "\t", "\r")
_SIGNS = ("+", "-")
# ASCII digits only: a spreadsheet reads "+١٢" as text, not as a number.
_PLAIN_NUMBER_RE = re.compile(r"[+-][0-9]+(?:\.[0-9]+)?")


def _dangerous(value: str) -> bool:
    if value.startswith(_FORMULA_STARTS):
        return True
    return value.startswith(_SIGNS) and _PLAIN_NUMBER_RE.fullmatch(value) is None


def needs_escape(value: str) -> bool:
    """Whether :func:`escape` prefixes ``value`` (dangerous once any leading quotes are looked past)."""
    return _dangerous(value.lstrip(PREFIX))


def escape(value: str) -> str:
    """``value`` made safe to open in a spreadsheet."""
    return PREFIX + value if needs_escape(value) else value


def unescape(value: str) -> str:
    """The exact inverse of :func:`escape`; a value it could not have produced is returned unchanged."""
    if value.startswith(PREFIX) and needs_escape(value[1:]):
        return value[1:]
    return value


# The rule of `needs_escape` as one anchored regex on the value itself: no per-value copy (stripping the
# quotes, slicing) for the vast majority that start with none of these characters, which made reading a
# million-row file spend seconds here. `{quotes}` is `'*` for escape and `'+` for unescape. After the
# quotes: a formula start, or a sign that does not begin a plain number (`[+-][0-9]+(\.[0-9]+)?` to the
# end), spelled out as where the plain number breaks off (polars' regexes have no look-ahead). One regex
# instead of a risky-start test and a plain-number test costs half as much on every cell of a report.
_NEEDS_ESCAPE = r"^{quotes}(?:[=@\t\r]|[+-](?:$|[^0-9]|[0-9]+(?:[^0-9.]|\.(?:$|[^0-9]|[0-9]+[^0-9]))))"


def _needs_escape_expr(text: pl.Expr, quotes: str = "'*") -> pl.Expr:
    return text.str.contains(_NEEDS_ESCAPE.format(quotes=quotes))


def escape_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`escape`; nulls stay null."""
    text = pl.col(column) if isinstance(column, str) else column
    return pl.when(_needs_escape_expr(text)).then(pl.lit(PREFIX) + text).otherwise(text)


def reescape_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of ``escape(unescape(value))`` in one step, for a value read back from a file we may
    have written: a cell that starts with a quote is already as :func:`escape` would write it (whether or
    not :func:`unescape` would take that quote off), so only a dangerous value without one gains a quote.
    One anchored test per value instead of two rules' four."""
    text = pl.col(column) if isinstance(column, str) else column
    return pl.when(_needs_escape_expr(text, quotes="")).then(pl.lit(PREFIX) + text).otherwise(text)


def unescape_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`unescape`; nulls stay null."""
    text = pl.col(column) if isinstance(column, str) else column
    # At least one quote, and dangerous once all leading quotes are looked past: `unescape`'s rule.
    return pl.when(_needs_escape_expr(text, quotes="'+")).then(text.str.slice(1)).otherwise(text)


def escape_headers(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its column names escaped like cells (headers are read back with :func:`unescape`)."""
    return frame.rename({name: escape(name) for name in frame.columns if needs_escape(name)})


def write_csv(frame: pl.DataFrame, path: str | Path, *, bom: bool = False) -> None:
    """Write ``frame`` as UTF-8 CSV (with a byte-order mark when asked), escaping every String column and
    every header, atomically: ``path`` is replaced only once the whole file is written."""
    safe = frame.with_columns(
        escape_expr(name).alias(name) for name, dtype in frame.schema.items() if dtype == pl.String
    )
    with atomic_path(path) as temp:
        escape_headers(safe).write_csv(temp, include_bom=bom)


class CsvAppender:
    """A CSV file opened once and written page by page, for exports too large to hold in memory.

    Every :meth:`write` appends one frame's rows (String columns, and the header, escaped like
    :func:`write_csv` when ``escape`` is on), flushes them to disk and returns the byte offset after them:
    a resumable writer records that offset, and a later ``CsvAppender(..., resume_at=offset)`` cuts off
    whatever a crash left after it and carries on appending. Without ``resume_at`` the file is started
    afresh: the byte-order mark when asked for, then the header.
    """

    def __init__(
        self,
        path: str | Path,
        columns: list[str],
        *,
        bom: bool = False,
        escape: bool = True,
        resume_at: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.bom = bom
        self.escape = escape
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO
        if resume_at is None:
            self._file = self.path.open("wb")
            self.restart()
        else:
            self._file = self.path.open("r+b")
            self._file.truncate(resume_at)
            self._file.seek(resume_at)

    @property
    def offset(self) -> int:
        return self._file.tell()

    def restart(self) -> int:
        """Empty the file and write the byte-order mark (if any) and the header again."""
        self._file.seek(0)
        self._file.truncate()
        if self.bom:
            self._file.write(BOM)
        header = pl.DataFrame(schema=dict.fromkeys(self.columns, pl.String))
        (escape_headers(header) if self.escape else header).write_csv(self._file)
        return self._sync()

    def write(self, frame: pl.DataFrame) -> int:
        """Append ``frame`` (its columns in the header's order) and return the offset after it."""
        page = frame.select(pl.col(c).cast(pl.String) for c in self.columns)
        if self.escape:
            page = page.with_columns(escape_expr(c).alias(c) for c in self.columns)
        if page.height:
            page.write_csv(self._file, include_header=False)
        return self._sync()

    def _sync(self) -> int:
        # On disk before the caller records the offset: a resume must never trust bytes that were lost.
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
