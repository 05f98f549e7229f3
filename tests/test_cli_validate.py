"""`contacts-pipeline validate`, driven in-process with click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.outcomes import OUTCOME_COLUMNS

GOOD = "Contact ID,Contact First Name,Account ID,Account Name,Notes\nC1,Ann,A1,Acme,hi\nC2,Bob,A1,Acme,\n"
CONFLICTING = "Contact ID,Account ID,Account Name\nC1,A1,Acme\nC2,A1,Acme Inc\n"


def invoke(*args: str | Path):
    return CliRunner().invoke(cli, ["validate", *map(str, args)])


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_all_valid_file_exits_0_and_prints_the_summary(tmp_path: Path) -> None:
    """A clean file prints every summary count and exits 0."""
    result = invoke(write(tmp_path, GOOD))
    assert result.exit_code == 0, result.output
    for label, count in [
        ("valid contacts", 2),
        ("valid organizations", 1),
        ("invalid rows", 0),
        ("conflict rows", 0),
        ("warnings", 1),
    ]:
        assert any(line.split() == [*label.split(), str(count)] for line in result.stdout.splitlines()), label
    assert "Read 2 rows" in result.stdout


def test_ignored_columns_are_listed_once(tmp_path: Path) -> None:
    """An unmapped column is named exactly once in the output."""
    result = invoke(write(tmp_path, GOOD))
    assert result.stdout.count("Notes") == 1
    assert "Ignored columns (not mapped to any field): Notes" in result.stdout


def test_some_invalid_rows_exit_1_and_the_report_has_one_row_per_input_row(tmp_path: Path) -> None:
    """Conflicting account rows make the exit code 1; the report lists both rows in order."""
    report = tmp_path / "out" / "r.csv"
    result = invoke(write(tmp_path, CONFLICTING), "--report", report)
    assert result.exit_code == 1, result.output
    assert "conflict rows               2" in result.stdout
    assert f"Report written to {report}" in result.stdout
    written = pl.read_csv(report, infer_schema=False)
    assert written.columns == ["Contact ID", "Account ID", "Account Name", *OUTCOME_COLUMNS]
    assert written.get_column("source_row").to_list() == ["2", "3"]
    assert written.get_column("organization_status").to_list() == ["conflict", "conflict"]


def test_account_conflicts_first_exits_0_with_a_warning(tmp_path: Path) -> None:
    """--account-conflicts first keeps the first row and only warns."""
    result = invoke(write(tmp_path, CONFLICTING), "--account-conflicts", "first")
    assert result.exit_code == 0, result.output
    assert "Warning: Account ID A1: rows 2, 3 disagree on Account Name" in result.stdout


def test_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """A FILE that does not exist is one 'Error:' line and exit 2, no usage text or traceback."""
    result = invoke(tmp_path / "absent.csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_empty_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """An empty file cannot be read at all."""
    result = invoke(write(tmp_path, ""))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_binary_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """Binary bytes are refused with one line."""
    path = tmp_path / "in.csv"
    path.write_bytes(bytes(range(256)) * 8)
    result = invoke(path)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_key_column_exits_2_naming_the_expected_headers(tmp_path: Path) -> None:
    """A file without Contact ID or Account ID explains which header it expected."""
    path = write(tmp_path, "First Name,Last Name\nAnn,Lee\n")
    result = invoke(path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {path}: no Contact ID or Account ID column; "
        "expected a header such as 'Contact ID' or 'Account ID'"
    )


def test_broken_mapping_exits_2(tmp_path: Path) -> None:
    """A mapping file that is not TOML is one line and exit 2."""
    mapping = write(tmp_path, "[columns\n", "map.toml")
    result = invoke(write(tmp_path, GOOD), "--mapping", mapping)
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr


def test_unknown_default_region_exits_2(tmp_path: Path) -> None:
    """A region code phonenumbers does not know is a configuration error."""
    result = invoke(write(tmp_path, GOOD), "--default-region", "XX")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")


def test_help_shows_an_example() -> None:
    """--help documents the command with a runnable example and the exit codes."""
    result = CliRunner().invoke(cli, ["validate", "--help"])
    assert result.exit_code == 0
    assert "contacts-pipeline validate samples/contacts.csv --report" in result.stdout
    assert "--account-conflicts [error|first]" in result.stdout


SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_sample_contacts_file_is_all_valid(tmp_path: Path) -> None:
    """The demo file validates cleanly: exit 0, every row's contact and organization `valid`."""
    report = tmp_path / "report.csv"
    result = invoke(SAMPLES / "contacts.csv", "--report", report)
    assert result.exit_code == 0, result.output
    written = pl.read_csv(report, infer_schema=False)
    assert set(written.get_column("contact_status")) == {"valid"}
    assert set(written.get_column("organization_status")) == {"valid"}


def test_sample_problems_file_exits_1_with_one_report_row_per_input_row(tmp_path: Path) -> None:
    """Every documented problem shows up on its own row of the report, in input order."""
    report = tmp_path / "report.csv"
    result = invoke(SAMPLES / "contacts-with-problems.csv", "--report", report)
    assert result.exit_code == 1, result.output
    written = pl.read_csv(report, infer_schema=False)
    data_rows = pl.read_csv(SAMPLES / "contacts-with-problems.csv", infer_schema=False).height
    assert written.height == data_rows
    rows = written.get_column("source_row").cast(pl.Int64).to_list()
    assert rows == sorted(rows)
    codes = set(written.get_column("error_code").drop_nulls())
    assert {"required", "too_long", "invalid_email", "invalid_phone", "invalid_url"} <= codes
    assert {"account_conflict", "contact_conflict", "empty_row"} <= codes
    conflict = written.filter(pl.col("error_code") == "account_conflict").get_column("error_message")
    assert all("rows 12, 13 disagree on Account Name" in m for m in conflict)


def test_sample_crm_export_validates_through_its_mapping() -> None:
    """The Dynamics export is valid with its mapping file, and lists its unused columns as ignored."""
    result = invoke(SAMPLES / "dynamics-export.csv", "--mapping", SAMPLES / "dynamics.mapping.toml")
    assert result.exit_code == 0, result.output
    assert "Ignored columns (not mapped to any field): fullname, statuscode, createdon" in result.stdout
