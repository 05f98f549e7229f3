"""Outcomes joined back onto the input rows: the reconciliation file and its counts.

The report has one row per input data row, in input order: the original columns unchanged, then the
``OUTCOME_COLUMNS`` (an import adds the ``RUN_COLUMNS``). It is written as CSV or, for a path ending in
``.xlsx``, as a workbook (:mod:`pipeline.report.workbook`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline.csvsafe import escape_expr, reescape_expr, unescape_expr, write_csv
from pipeline.errors import ConfigError
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW, Outcome, Status
from pipeline.report.merge import row_succeeded
from pipeline.report.workbook import write_report_workbook


def build_report(
    raw: pl.DataFrame,
    outcomes: pl.DataFrame,
    run: Mapping[str, str | None] | None = None,
    *,
    escaped: bool = False,
) -> pl.DataFrame:
    """The input columns, then the outcome columns (then ``run``'s columns), one row per input row.

    An input column named like an outcome column (the Genesys id columns of an export fed back as input)
    gives way to it: the report's column says what this run did. ``escaped``: every cell as a CSV file
    writes it (formula-escaped, see :mod:`pipeline.csvsafe`), which is cheaper than building the report
    and escaping it after.
    """
    outcome_frame = outcomes.select(
        pl.col(SOURCE_ROW).cast(pl.Int64),
        *(pl.col(c).cast(pl.String) for c in OUTCOME_COLUMNS if c != SOURCE_ROW),
    ).unique(SOURCE_ROW, keep="first", maintain_order=True)
    own = {*OUTCOME_COLUMNS, *(run or {})}
    inputs = [c for c in raw.columns if c not in own]
    run_columns = [pl.lit(value, dtype=pl.String).alias(name) for name, value in (run or {}).items()]
    cell = reescape_expr if escaped else unescape_expr
    outputs = [c for c in (*OUTCOME_COLUMNS, *(run or {})) if c != SOURCE_ROW]
    return (
        raw.lazy()
        .select(pl.col(SOURCE_ROW).cast(pl.Int64), *inputs)
        .join(outcome_frame.lazy(), on=SOURCE_ROW, how="left", maintain_order="left")
        # A cell written escaped by us before (a report fed back as input) is taken at its value, so that
        # writing it escapes it once again rather than twice: '=X stays '=X, never ''=X.
        .select(*(cell(c).alias(c) for c in inputs), *OUTCOME_COLUMNS, *run_columns)
        .with_columns(escape_expr(c).alias(c) for c in outputs if escaped)
        .collect()
    )


def check_report_path(path: str | Path) -> Path:
    """Make sure the reconciliation file can be written at ``path`` (creating its folder), before any work.

    An import that pushed every record and then could not write its report would lose the one account of
    what happened, so this runs first and raises :class:`ConfigError` naming the problem.
    """
    path = Path(path)
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ConfigError(f"cannot write the report to {path}: {blocking} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot write the report to {path}: {err.strerror or err}") from None
    if path.is_dir():
        raise ConfigError(f"cannot write the report to {path}: it is a directory")
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK):
        raise ConfigError(f"cannot write the report to {path}: permission denied")
    return path


REPORT_FORMATS = ("csv", "xlsx")


def report_format(path: str | Path) -> str:
    """``xlsx`` for a path ending in ``.xlsx`` (any case), else ``csv``: a report's format is its name's."""
    return "xlsx" if Path(path).suffix.lower() == ".xlsx" else "csv"


DEFAULT_REPORT_STEM = Path("out/reconciliation")
# Input suffixes whose report defaults to a workbook: whoever works in Excel gets the report in Excel.
_WORKBOOK_INPUTS = (".xlsx", ".xlsm")


def choose_report_path(report: Path | None, chosen_format: str | None, input_path: str | Path) -> Path:
    """Where an import's report goes: ``--report`` as given, else ``out/reconciliation.<format>``.

    The format is ``chosen_format`` (``--report-format``) when given, else the ``--report`` path's
    extension, else the input's (an .xlsx input gets an .xlsx report). A ``--report`` whose extension
    contradicts ``--report-format`` is refused (``ConfigError``) rather than written in the wrong format.
    """
    if report is not None:
        if chosen_format is not None and report_format(report) != chosen_format:
            raise ConfigError(
                f"--report {report} does not end in .{chosen_format}, the --report-format asked for; "
                f"name it .{chosen_format} or drop --report-format"
            )
        return report
    if chosen_format is None:
        chosen_format = "xlsx" if Path(input_path).suffix.lower() in _WORKBOOK_INPUTS else "csv"
    return DEFAULT_REPORT_STEM.with_suffix(f".{chosen_format}")


def write_report(report: pl.DataFrame, path: str | Path, summary: Mapping[str, object] | None = None) -> Path:
    """Write the reconciliation file, creating its folder if needed: formula-safe CSV, or a workbook
    (report, ``summary`` sheet: ``summary`` or the report's counts, legend) when ``path`` ends in .xlsx."""
    path = check_report_path(path)
    try:
        if report_format(path) == "xlsx":
            write_report_workbook(report, path, summary or counts_summary(summarize(report)))
        else:
            write_csv(report, path)
    except OSError as err:
        raise ConfigError(f"cannot write the report to {path}: {err.strerror or err}") from None
    return path


def count_statuses(statuses: pl.Series) -> dict[str, int]:
    """How many of each status, most frequent first; empty cells (no such part) are not counted.

    The one place outcomes are counted: rows of a report, records of a push and the live progress.
    """
    counted = statuses.drop_nulls().value_counts(sort=True)
    return {str(status): int(n) for status, n in counted.iter_rows()}


def record_counts(outcomes: Iterable[Outcome]) -> dict[str, dict[str, int]]:
    """Records per kind (``organization``, ``contact``) and status; kinds without records are absent."""
    statuses: dict[str, list[str]] = {}
    for outcome in outcomes:
        statuses.setdefault(outcome.kind, []).append(str(outcome.status))
    return {kind: count_statuses(pl.Series(values, dtype=pl.String)) for kind, values in statuses.items()}


@dataclass(frozen=True)
class StatusCounts:
    """How many rows ended in each status, per part, and the rows that need attention."""

    rows: int
    succeeded_rows: int
    invalid_rows: int
    conflict_rows: int
    skipped_rows: int
    organization: dict[str, int] = field(default_factory=dict)
    contact: dict[str, int] = field(default_factory=dict)

    @property
    def problem_rows(self) -> int:
        return self.invalid_rows + self.conflict_rows + self.skipped_rows


def summarize(report: pl.DataFrame) -> StatusCounts:
    """Count a report's rows; each row counts once, under its worst part (invalid > conflict > skipped)."""

    def either(status: Status) -> pl.Expr:
        return (pl.col("organization_status") == status.value) | (pl.col("contact_status") == status.value)

    invalid = either(Status.INVALID).fill_null(False)
    conflict = either(Status.CONFLICT).fill_null(False) & ~invalid
    skipped = either(Status.SKIPPED).fill_null(False) & ~invalid & ~conflict
    totals = report.select(
        row_succeeded().sum().alias("succeeded"),
        invalid.sum().alias("invalid"),
        conflict.sum().alias("conflict"),
        skipped.sum().alias("skipped"),
    ).row(0, named=True)
    return StatusCounts(
        rows=report.height,
        succeeded_rows=int(totals["succeeded"] or 0),
        invalid_rows=int(totals["invalid"] or 0),
        conflict_rows=int(totals["conflict"] or 0),
        skipped_rows=int(totals["skipped"] or 0),
        organization=count_statuses(report.get_column("organization_status")),
        contact=count_statuses(report.get_column("contact_status")),
    )


def counts_summary(counts: StatusCounts) -> dict[str, object]:
    """A report's counts as the Summary sheet lists them (a flat name -> value mapping)."""
    flat: dict[str, object] = {
        "rows": counts.rows,
        "rows succeeded": counts.succeeded_rows,
        "rows invalid": counts.invalid_rows,
        "rows in conflict": counts.conflict_rows,
        "rows skipped": counts.skipped_rows,
    }
    flat.update({f"organization_status {k}": v for k, v in counts.organization.items()})
    flat.update({f"contact_status {k}": v for k, v in counts.contact.items()})
    return flat
