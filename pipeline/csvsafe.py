"""Spreadsheet formula-injection safety for every CSV this tool writes, and its inverse for reading back.

A spreadsheet runs a cell as a formula when it begins with ``=``, ``+``, ``-`` or ``@`` (and some also
after a leading tab or carriage return). Such a cell is written with a single quote in front, which
spreadsheets display as text and which :func:`unescape` removes when the file comes back as input.

``+`` and ``-`` followed by a plain number (``+14155550123``, ``-12.5``) stay as they are: spreadsheets read
them as numbers, and E.164 phones must survive export untouched.

To make the round trip exact for every text, a value that already starts with quotes followed by something
dangerous (``'=A1``) gets one more quote too: the rule looks past any leading quotes, so :func:`unescape`
only ever removes a quote that :func:`escape` could have added.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

PREFIX = "'"
_FORMULA_STARTS = ("=", "@", "\t", "\r")
_SIGNS = ("+", "-")
# ASCII digits only: a spreadsheet reads "+١٢" as text, not as a number.
_PLAIN_NUMBER = r"^[+-][0-9]+(\.[0-9]+)?$"
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


def _needs_escape_expr(text: pl.Expr) -> pl.Expr:
    bare = text.str.strip_chars_start(PREFIX)
    formula = pl.any_horizontal([bare.str.starts_with(s) for s in _FORMULA_STARTS])
    signed = pl.any_horizontal([bare.str.starts_with(s) for s in _SIGNS])
    return formula | (signed & ~bare.str.contains(_PLAIN_NUMBER))


def escape_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`escape`; nulls stay null."""
    text = pl.col(column) if isinstance(column, str) else column
    return pl.when(_needs_escape_expr(text)).then(pl.lit(PREFIX) + text).otherwise(text)


def unescape_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`unescape`; nulls stay null."""
    text = pl.col(column) if isinstance(column, str) else column
    rest = text.str.slice(1)
    return pl.when(text.str.starts_with(PREFIX) & _needs_escape_expr(rest)).then(rest).otherwise(text)


def write_csv(frame: pl.DataFrame, path: str | Path, *, bom: bool = False) -> None:
    """Write ``frame`` as UTF-8 CSV (with a byte-order mark when asked), escaping every String column."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = frame.with_columns(
        escape_expr(name).alias(name) for name, dtype in frame.schema.items() if dtype == pl.String
    )
    safe.write_csv(path, include_bom=bom)
