"""Tests for pipeline.csvsafe: formula escaping on export and its exact inverse."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.csvsafe import escape, escape_expr, reescape_expr, unescape, unescape_expr, write_csv
from pipeline.prepare.read import read_table


@pytest.mark.parametrize(
    "value",
    ["=SUM(A1:A9)", '=HYPERLINK("http://x.example","y")', "@SUM(A1)", "+1 415 555 0123", "-2+3", "+", "-",
     "\tTAB", "\rCR", "+14155550123;ext=42", "-12,5"],
)  # fmt: skip
def test_formula_looking_cells_get_a_quote_prefix(value: str) -> None:
    """Cells a spreadsheet would run as a formula are written with a leading quote."""
    assert escape(value) == "'" + value


@pytest.mark.parametrize("value", ["+14155550123", "-12.5", "+7", "0042", "Jane", "", " =not first", "a=b"])
def test_plain_numbers_and_ordinary_text_are_untouched(value: str) -> None:
    """E.164 phones, signed numbers and text not starting with a formula character pass unchanged."""
    assert escape(value) == value


def test_a_real_leading_quote_is_not_removed() -> None:
    """Unescaping only removes a quote that escaping could have added."""
    assert unescape("'hello") == "'hello"
    assert unescape("'+14155550123") == "'+14155550123"
    assert unescape("'=A1") == "=A1"


def test_text_already_quoted_before_a_formula_round_trips() -> None:
    """A value that itself starts with a quote and a formula gets one more quote, so it comes back intact."""
    assert escape("'=A1") == "''=A1"
    assert unescape(escape("'=A1")) == "'=A1"


@given(st.text())
def test_unescape_inverts_escape_for_any_text(value: str) -> None:
    """unescape(escape(x)) == x for every text."""
    assert unescape(escape(value)) == value


@given(st.text())
def test_escaped_text_never_starts_like_a_formula(value: str) -> None:
    """Whatever the input, the escaped cell does not begin with a formula character."""
    escaped = escape(value)
    assert not escaped.startswith(("=", "@", "\t", "\r"))
    if escaped.startswith(("+", "-")):
        assert re.fullmatch(r"[+-][0-9]+(\.[0-9]+)?", escaped)


_RISKY_TEXT = st.text(
    alphabet=st.sampled_from(["'", "=", "@", "+", "-", "1", "9", ".", "\t", "\r", "\n", "a", " ", "٣"])
)


@given(st.lists(st.one_of(st.none(), _RISKY_TEXT, st.text()), max_size=30))
def test_polars_expressions_agree_with_the_python_functions(values: list[str | None]) -> None:
    """escape_expr and unescape_expr give exactly what escape and unescape give, and keep nulls."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    result = frame.select(escaped=escape_expr("v"), unescaped=unescape_expr("v"))
    assert result.get_column("escaped").to_list() == [None if v is None else escape(v) for v in values]
    assert result.get_column("unescaped").to_list() == [None if v is None else unescape(v) for v in values]


@given(st.lists(st.one_of(st.none(), _RISKY_TEXT, st.text()), max_size=30))
def test_reescaping_a_read_back_cell_equals_unescaping_then_escaping_it(values: list[str | None]) -> None:
    """The report's one-step rule gives what taking a cell's escape off and escaping it again gives."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    expected = [None if v is None else escape(unescape(v)) for v in values]
    assert frame.select(reescape_expr("v")).to_series().to_list() == expected


def test_write_csv_escapes_text_columns_only(tmp_path: Path) -> None:
    """String columns are escaped; numeric columns are written as numbers; parent folders are created."""
    path = tmp_path / "out" / "nested" / "report.csv"
    frame = pl.DataFrame({"source_row": [2, 3], "Title": ["=1+2", "CEO"], "Phone": ["+14155550123", None]})
    write_csv(frame, path)
    assert path.read_bytes() == b"source_row,Title,Phone\n2,'=1+2,+14155550123\n3,CEO,\n"


def test_write_csv_adds_a_byte_order_mark_when_asked(tmp_path: Path) -> None:
    """With bom=True the file starts with the UTF-8 BOM Excel needs to detect UTF-8."""
    path = tmp_path / "report.csv"
    write_csv(pl.DataFrame({"Name": ["Zoë"]}), path, bom=True)
    assert path.read_bytes() == b"\xef\xbb\xbfName\nZo\xc3\xab\n"


@given(st.lists(st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1), min_size=1, max_size=10))
def test_written_file_reads_back_to_the_original_values(values: list[str]) -> None:
    """write_csv then read_table then unescape gives back every value."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "round.csv"
        write_csv(pl.DataFrame({"Contact ID": [str(i) for i in range(len(values))], "Value": values}), path)
        read = read_table(path).frame.select(unescape_expr("Value")).get_column("Value").to_list()
    assert read == values
