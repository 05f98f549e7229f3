"""The reconciliation file as a workbook: the report sheet, its counts, and the legend of its columns."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from pipeline.report.legend import STATUS_COLOURS, STATUS_COLUMNS, report_legend
from pipeline.workbook import Sheets, write_workbook

# Rows handed to the writer at a time: the String copy of one slice, not of the whole report.
_SLICE = 10_000


def write_report_workbook(report: pl.DataFrame, path: str | Path, summary: Mapping[str, object]) -> None:
    """Write ``report`` to ``path`` (.xlsx), every cell as text, status cells coloured."""
    colours = {str(status): colours for status, colours in STATUS_COLOURS.items()}
    sheets = Sheets(
        data_sheet="Report",
        summary=summary,
        legend=report_legend(report.columns),
        colours=dict.fromkeys(STATUS_COLUMNS, colours),
    )
    pages = (page.with_columns(pl.all().cast(pl.String)) for page in report.iter_slices(_SLICE))
    rows = (values for page in pages for values in page.iter_rows())
    write_workbook(path, report.columns, rows, sheets)
