"""`pipeline.report.validation.validate_file`: the whole offline pipeline from a CSV file to a report."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError, MappingError, MissingKeyColumnError
from pipeline.outcomes import OUTCOME_COLUMNS
from pipeline.prepare.stage import PrepareOptions
from pipeline.report.validation import validate_file

HEADER = [
    "Contact ID",
    "Contact First Name",
    "Contact Work Email",
    "Contact Cell Phone",
    "Account ID",
    "Account Name",
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_clean_file_is_all_valid(tmp_path: Path) -> None:
    """Two contacts of one account: one organization, two contacts, nothing invalid."""
    path = write_csv(
        tmp_path / "in.csv",
        [
            ["C1", "Ann", "ann@example.com", "(415) 555-0123", "A1", "Acme"],
            ["C2", "Bob", "bob@example.com", "+44 20 7946 0958", "A1", "Acme"],
        ],
    )
    result = validate_file(path)
    summary = result.summary
    assert (summary.rows_read, summary.valid_contacts, summary.valid_organizations) == (2, 2, 1)
    assert (summary.invalid_rows, summary.conflict_rows) == (0, 0)
    assert summary.all_valid
    assert result.prepared.normalized.get_column("contact.cellPhone").to_list() == [
        "+14155550123",
        "+442079460958",
    ]


def test_problem_rows_are_counted_and_reported_in_order(tmp_path: Path) -> None:
    """An invalid email and a disagreeing account show up in the summary and on their report rows."""
    path = write_csv(
        tmp_path / "in.csv",
        [
            ["C1", "Ann", "ann@example.com", "", "A1", "Acme"],
            ["C2", "Bob", "not-an-email", "", "A2", "Beta"],
            ["C3", "Cy", "cy@example.com", "", "A1", "Acme Inc"],
        ],
    )
    result = validate_file(path)
    assert (result.summary.invalid_rows, result.summary.conflict_rows) == (1, 2)
    assert not result.summary.all_valid
    report = result.report
    assert report.columns == [*HEADER, *OUTCOME_COLUMNS]
    assert report.get_column("source_row").to_list() == [2, 3, 4]
    # Row 3's organization A2 passed every check: `valid`, though its contact did not.
    assert report.get_column("organization_status").to_list() == ["conflict", "valid", "conflict"]
    assert report.get_column("contact_status").to_list() == ["skipped", "invalid", "skipped"]
    assert "rows 2, 4 disagree on Account Name" in report.item(0, "error_message")


def test_account_conflicts_first_turns_conflicts_into_warnings(tmp_path: Path) -> None:
    """With account_conflicts='first' the file is valid and the disagreement is a warning."""
    path = write_csv(
        tmp_path / "in.csv",
        [["C1", "Ann", "", "", "A1", "Acme"], ["C2", "Bob", "", "", "A1", "Acme Inc"]],
    )
    result = validate_file(path, PrepareOptions(account_conflicts="first"))
    assert result.summary.all_valid
    assert result.summary.warnings == 1
    assert "disagree on Account Name" in result.prepared.warnings[0]


def test_unknown_account_conflicts_mode_is_a_config_error(tmp_path: Path) -> None:
    """A mode other than error/first is refused before reading anything."""
    with pytest.raises(ConfigError, match="account-conflicts"):
        PrepareOptions(account_conflicts="newest")  # type: ignore[arg-type]


def test_default_region_decides_how_local_phones_are_read(tmp_path: Path) -> None:
    """A UK number without country code is valid with default region GB."""
    path = write_csv(tmp_path / "in.csv", [["C1", "Ann", "", "020 7946 0958", "", ""]])
    result = validate_file(path, PrepareOptions(default_region="GB"))
    assert result.prepared.normalized.item(0, "contact.cellPhone") == "+442079460958"
    assert result.summary.all_valid


def test_mapping_file_maps_crm_headers(tmp_path: Path) -> None:
    """A CRM export with its own headers validates through a mapping file, with constants applied."""
    mapping = tmp_path / "crm.toml"
    mapping.write_text(
        '[columns]\n"contactid" = "contact.externalId"\n"Tier" = "contact.customFields.loyalty_tier_text"\n'
        '[constants]\n"contact.address.countryCode" = "US"\n',
        encoding="utf-8",
    )
    path = write_csv(tmp_path / "crm.csv", [["X-1", "gold", "n/a"]], header=["contactid", "Tier", "Owner"])
    result = validate_file(path, PrepareOptions(mapping=mapping))
    assert result.prepared.columns.ignored == ("Owner",)
    assert result.prepared.grouped.contacts.get_column(
        "contact.customFields.loyalty_tier_text"
    ).to_list() == ["gold"]
    assert result.prepared.grouped.contacts.get_column("contact.address.countryCode").to_list() == ["US"]
    assert any("Owner" in w for w in result.prepared.warnings)


def test_broken_mapping_file_raises_mapping_error(tmp_path: Path) -> None:
    """A mapping naming an unknown field stops the run with a MappingError."""
    mapping = tmp_path / "bad.toml"
    mapping.write_text('[columns]\n"A" = "contact.shoeSize"\n', encoding="utf-8")
    with pytest.raises(MappingError, match="shoeSize"):
        validate_file(
            write_csv(tmp_path / "in.csv", [["C1", "", "", "", "", ""]]), PrepareOptions(mapping=mapping)
        )


def test_file_without_key_column_raises(tmp_path: Path) -> None:
    """No Contact ID and no Account ID column is a MissingKeyColumnError."""
    path = write_csv(tmp_path / "in.csv", [["Ann", "Lee"]], header=["First Name", "Last Name"])
    with pytest.raises(MissingKeyColumnError):
        validate_file(path)


cell = st.sampled_from(["", "C1", "C2", "x@example.com", "bad@", "+14155550123", "12", "Acme", "Beta", " "])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(cell, min_size=6, max_size=6), min_size=1, max_size=25))
def test_every_data_row_gets_exactly_one_report_row(rows: list[list[str]]) -> None:
    """Whatever the cells, the report has one row per data row, in input order, with outcome columns."""
    rows = [r for r in rows if any(c.strip() for c in r)] or [["C1", "", "", "", "", ""]]
    with tempfile.TemporaryDirectory() as tmp:
        result = validate_file(write_csv(Path(tmp) / "in.csv", rows))
    report = result.report
    assert report.height == result.prepared.raw.frame.height
    assert (
        report.get_column("source_row").to_list()
        == result.prepared.raw.frame.get_column("source_row").to_list()
    )
    assert report.columns[-len(OUTCOME_COLUMNS) :] == list(OUTCOME_COLUMNS)
    # Every row says something: a part that passed is `valid`, one that did not has its problem.
    statuses = pl.col("organization_status").is_not_null() | pl.col("contact_status").is_not_null()
    assert report.filter(~statuses).height == 0
    settled = report.filter(
        pl.any_horizontal(pl.col("organization_status", "contact_status").fill_null("valid") != "valid")
    )
    assert settled.height == result.prepared.grouped.outcomes.height
