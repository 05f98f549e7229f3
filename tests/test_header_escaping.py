"""Headers are cells too: every CSV written for spreadsheets escapes them, and reading undoes it."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.csvsafe import CsvAppender, write_csv
from pipeline.prepare.read import read_table

DANGEROUS = ['=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\t=1+1"]
SAFE = ["Contact ID", "custom:score_number", "+44", "-12.5"]


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return next(csv.reader(f))


@pytest.mark.parametrize("name", DANGEROUS)
def test_dangerous_headers_are_written_with_a_quote(tmp_path: Path, name: str) -> None:
    """A header a spreadsheet would run as a formula gets the same leading quote as such a cell."""
    path = tmp_path / "report.csv"
    write_csv(pl.DataFrame({"Contact ID": ["C-1"], name: ["v"]}), path)
    assert _header(path) == ["Contact ID", "'" + name]


def test_plain_headers_are_written_as_they_are(tmp_path: Path) -> None:
    """Ordinary names and signed plain numbers stay untouched, like such cells."""
    path = tmp_path / "report.csv"
    write_csv(pl.DataFrame({name: ["v"] for name in SAFE}), path)
    assert _header(path) == SAFE


def test_export_appender_escapes_its_header_for_csv_only(tmp_path: Path) -> None:
    """The streaming export writer escapes the header of a CSV, not of the partial file behind parquet."""
    columns = ["Contact ID", "=A1"]
    with CsvAppender(tmp_path / "out.csv", columns) as escaped:
        escaped.write(pl.DataFrame({"Contact ID": ["C-1"], "=A1": ["=B2"]}))
    with CsvAppender(tmp_path / "raw.csv", columns, escape=False):
        pass
    assert _header(tmp_path / "out.csv") == ["Contact ID", "'=A1"]
    assert _header(tmp_path / "raw.csv") == columns


def test_escaped_headers_read_back_as_written_originally(tmp_path: Path) -> None:
    """A report read as input has the input's original header names, so escaping round-trips."""
    names = ["Contact ID", *DANGEROUS[:4], "'=already quoted"]
    path = tmp_path / "report.csv"
    write_csv(pl.DataFrame({name: ["v"] for name in names}), path)
    assert list(read_table(path).headers) == names


def test_report_fed_back_maps_its_headers_and_escapes_them_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mapped formula-like header still maps when the report comes back, and is not quoted twice."""
    monkeypatch.chdir(tmp_path)
    Path("in.csv").write_text("Contact ID,=Nick\nC-1,Ann\n", encoding="utf-8")
    Path("m.toml").write_text('[columns]\n"=Nick" = "contact.firstName"\n', encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(cli, ["validate", "in.csv", "--mapping", "m.toml", "--report", "r1.csv"])
    second = runner.invoke(cli, ["validate", "r1.csv", "--mapping", "m.toml", "--report", "r2.csv"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "Ignored columns" not in second.output
    assert _header(Path("r1.csv"))[:2] == ["Contact ID", "'=Nick"]
    assert _header(Path("r2.csv")) == _header(Path("r1.csv"))
