"""The reconciliation report: every input row, in order, with its outcome columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.outcomes import OUTCOME_COLUMNS, Status
from pipeline.prepare.read import read_table
from pipeline.report.reconcile import build_report, summarize, write_report

OUTCOME_SCHEMA = {c: (pl.Int64 if c == "source_row" else pl.String) for c in OUTCOME_COLUMNS}


def raw_frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source_row": list(range(2, rows + 2)),
            "Contact ID": [f"C{i}" for i in range(rows)],
            "Notes": [f"=note {i}" for i in range(rows)],
        },
        schema={"source_row": pl.Int64, "Contact ID": pl.String, "Notes": pl.String},
    )


def outcomes(rows: list[tuple[int, str | None, str | None]]) -> pl.DataFrame:
    """An outcomes frame from (source_row, organization_status, contact_status) tuples."""
    return pl.DataFrame(
        {
            "source_row": [r[0] for r in rows],
            "organization_status": [r[1] for r in rows],
            "genesys_organization_id": [None] * len(rows),
            "contact_status": [r[2] for r in rows],
            "genesys_contact_id": [None] * len(rows),
            "error_stage": ["validate" if r[1] or r[2] else None for r in rows],
            "error_code": ["required" if r[1] or r[2] else None for r in rows],
            "error_message": ["Contact ID: required" if r[1] or r[2] else None for r in rows],
        },
        schema=OUTCOME_SCHEMA,
    )


def test_report_keeps_input_columns_then_outcome_columns() -> None:
    """Input columns come first, unchanged, then exactly the outcome columns."""
    report = build_report(raw_frame(2), outcomes([(3, None, Status.INVALID)]))
    assert report.columns == ["Contact ID", "Notes", *OUTCOME_COLUMNS]
    assert report.get_column("Notes").to_list() == ["=note 0", "=note 1"]


def test_rows_without_an_outcome_get_empty_statuses() -> None:
    """A valid row has null outcome cells but keeps its source_row."""
    report = build_report(raw_frame(2), outcomes([(3, None, Status.INVALID)]))
    assert report.get_column("contact_status").to_list() == [None, "invalid"]
    assert report.get_column("source_row").to_list() == [2, 3]


def test_report_follows_input_order_whatever_the_outcome_order() -> None:
    """Outcomes listed backwards still land on their own rows, in input order."""
    report = build_report(raw_frame(3), outcomes([(4, "conflict", "skipped"), (2, None, "invalid")]))
    assert report.get_column("source_row").to_list() == [2, 3, 4]
    assert report.get_column("contact_status").to_list() == ["invalid", None, "skipped"]


@settings(max_examples=50, deadline=None)
@given(
    rows=st.integers(min_value=1, max_value=40),
    settled=st.sets(st.integers(min_value=0, max_value=39)),
)
def test_every_input_row_gets_exactly_one_report_row(rows: int, settled: set[int]) -> None:
    """Whatever subset of rows has outcomes, the report has one row per input row, in order."""
    chosen = sorted(i + 2 for i in settled if i < rows)
    report = build_report(raw_frame(rows), outcomes([(r, None, "invalid") for r in reversed(chosen)]))
    assert report.height == rows
    assert report.get_column("source_row").to_list() == list(range(2, rows + 2))
    assert report.get_column("contact_status").is_not_null().sum() == len(chosen)


def test_write_report_creates_the_folder_and_escapes_formulas(tmp_path: Path) -> None:
    """The report is written where asked, with spreadsheet formulas neutralised."""
    target = tmp_path / "out" / "report.csv"
    write_report(build_report(raw_frame(1), outcomes([])), target)
    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("Contact ID,Notes,source_row,organization_status")
    assert "'=note 0" in text


def test_summarize_counts_each_row_once_under_its_worst_status() -> None:
    """Invalid beats conflict beats skipped; rows without outcome are not counted as problems."""
    report = build_report(
        raw_frame(5),
        outcomes([(2, "invalid", "skipped"), (3, "conflict", "skipped"), (4, None, "conflict")]),
    )
    counts = summarize(report)
    assert (counts.rows, counts.invalid_rows, counts.conflict_rows, counts.skipped_rows) == (5, 1, 2, 0)
    assert counts.contact == {"skipped": 2, "conflict": 1}
    assert counts.problem_rows == 3


def test_a_report_fed_back_and_written_again_escapes_formulas_only_once(tmp_path: Path) -> None:
    """Writing, reading and writing a report again leaves a formula cell escaped exactly once."""
    raw = pl.DataFrame({"source_row": [2], "Contact ID": ["C-1"], "Contact Title": ["=HYPERLINK(1)"]})
    outcomes = pl.DataFrame(
        {
            c: ([2] if c == "source_row" else ["created" if c == "contact_status" else None])
            for c in OUTCOME_COLUMNS
        }
    )
    first = write_report(build_report(raw, outcomes), tmp_path / "r1.csv")
    again = read_table(first)
    second = write_report(build_report(again.frame, outcomes), tmp_path / "r2.csv")
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    assert "'=HYPERLINK(1)" in second.read_text(encoding="utf-8")
