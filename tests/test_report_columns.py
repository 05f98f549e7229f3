"""The reconciliation file's own columns: export's id names, old names still read, valid rows, run columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from test_reconcile import outcomes, raw_frame

from pipeline.prepare.read import read_table
from pipeline.report.reconcile import build_report
from pipeline.report.validation import validate_file


def test_a_report_written_with_the_old_id_names_is_read_back_as_one(tmp_path: Path) -> None:
    """`organization_id`/`contact_id` of an older report are set aside and become the previous ids."""
    path = tmp_path / "old.csv"
    path.write_text(
        "Contact ID,source_row,organization_status,organization_id,contact_status,contact_id,"
        "error_stage,error_code,error_message\nC1,2,,,created,g-1,,,\n",
        encoding="utf-8",
    )
    table = read_table(path)
    assert table.headers == ("Contact ID",)
    assert table.previous is not None
    assert table.previous["genesys_contact_id"].to_list() == ["g-1"]
    assert table.previous["contact_status"].to_list() == ["created"]


def test_the_run_columns_of_a_report_fed_back_are_not_data(tmp_path: Path) -> None:
    """`run_id` and `dry_run` describe the previous import, so reading its report drops them."""
    path = tmp_path / "rec.csv"
    path.write_text(
        "Contact ID,source_row,organization_status,genesys_organization_id,contact_status,"
        "genesys_contact_id,error_stage,error_code,error_message,run_id,dry_run\nC1,2,,,failed,,contact,x,y,4,false\n",
        encoding="utf-8",
    )
    table = read_table(path)
    assert table.headers == ("Contact ID",)
    assert table.previous is not None
    assert table.previous["contact_status"].to_list() == ["failed"]


def test_an_exports_id_columns_give_way_to_the_reports(tmp_path: Path) -> None:
    """An export imported again has `genesys_contact_id` already: the report keeps one, the run's."""
    raw = raw_frame(2).with_columns(genesys_contact_id=pl.lit("from-export"))
    decided = outcomes([(2, None, "created"), (3, None, None)]).with_columns(
        genesys_contact_id=pl.Series(["g-new", None])
    )
    report = build_report(raw, decided, {"run_id": "7", "dry_run": "false"})
    assert report.columns.count("genesys_contact_id") == 1
    assert report["genesys_contact_id"].to_list() == ["g-new", None]
    assert report.columns[-2:] == ["run_id", "dry_run"]
    assert report["run_id"].to_list() == ["7", "7"]


def test_validate_marks_the_parts_it_accepted_valid(tmp_path: Path) -> None:
    """A part that passed every check is `valid`; a row without that part stays empty."""
    path = tmp_path / "in.csv"
    path.write_text(
        "Contact ID,First Name,Last Name,Email,Account ID,Account Name\n"
        "C1,Ann,Lee,ann@example.com,A1,Acme\nC2,Bob,Ray,not-an-email,A1,Acme\nC3,Cy,Ho,cy@example.com,,\n",
        encoding="utf-8",
    )
    report = validate_file(path).report
    assert report["organization_status"].to_list() == ["valid", "valid", None]
    assert report["contact_status"].to_list() == ["valid", "invalid", "valid"]
