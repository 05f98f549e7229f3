"""The legend of report columns and statuses is the README's table, and covers every column and status."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl

from pipeline.outcomes import OUTCOME_COLUMNS, RUN_COLUMNS, Status
from pipeline.report.legend import COLUMNS, STATUSES
from pipeline.report.reconcile import write_report

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_report_column_and_status_has_a_meaning() -> None:
    """No column a report adds and no status goes unexplained."""
    assert set(COLUMNS) == {*OUTCOME_COLUMNS, *RUN_COLUMNS}
    assert set(STATUSES) == set(Status)


def test_readme_lists_every_column_and_status_in_the_legends_words() -> None:
    """README's tables carry exactly the text of the Legend sheet, row by row."""
    for name, meaning in (*COLUMNS.items(), *STATUSES.items()):
        assert f"| `{name}` | {meaning} |" in README, f"{name} is not in README's table as the legend says"


def test_an_xlsx_report_has_text_cells_coloured_statuses_and_the_legend(tmp_path: Path) -> None:
    """A report written as .xlsx: text cells only (formulas included), frozen filtered header, legend."""
    report = pl.DataFrame(
        {
            "Contact ID": ["007", '=HYPERLINK("x")'],
            "Phone": ["+441234567890", "12345678901234567890"],
            "source_row": [2, 3],
            "organization_status": [None, None],
            "genesys_organization_id": [None, None],
            "contact_status": ["created", "failed"],
            "genesys_contact_id": ["g-1", None],
            "error_stage": [None, "contact"],
            "error_code": [None, "bad.request"],
            "error_message": [None, "=1+1"],
        },
        schema_overrides={"organization_status": pl.String, "genesys_organization_id": pl.String},
    )
    path = write_report(report, tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["Report"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:J3"
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == report.columns
    assert rows[1][:3] == ["007", "+441234567890", "2"]
    assert rows[2][0] == '=HYPERLINK("x")'
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row if c.value is not None)
    rules = [r for ranges in sheet.conditional_formatting for r in ranges.rules]
    assert {'"created"', '"failed"', '"valid"'} <= {f for r in rules for f in r.formula}
    summary = dict(book["Summary"].iter_rows(min_row=2, values_only=True))
    assert summary["rows"] == 2
    assert summary["contact_status failed"] == 1
    legend = {row[1]: row[2] for row in book["Legend"].iter_rows(min_row=2, values_only=True)}
    assert legend["genesys_contact_id"] == COLUMNS["genesys_contact_id"]
    assert legend["unknown"] == STATUSES[Status.UNKNOWN]
