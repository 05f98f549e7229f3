"""Outcomes joined back onto the input rows: the reconciliation file and its counts.

The report has one row per input data row, in input order: the original columns unchanged, then the
``OUTCOME_COLUMNS``. A row with no outcome yet (valid, still to be pushed) has empty outcome cells.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline.csvsafe import unescape_expr, write_csv
from pipeline.errors import ConfigError
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW, Outcome, Status
from pipeline.report.merge import row_succeeded


def build_report(raw: pl.DataFrame, outcomes: pl.DataFrame) -> pl.DataFrame:
    """The input columns, then the outcome columns, one row per input row in input order."""
    outcome_frame = outcomes.select(
        pl.col(SOURCE_ROW).cast(pl.Int64),
        *(pl.col(c).cast(pl.String) for c in OUTCOME_COLUMNS if c != SOURCE_ROW),
    ).unique(SOURCE_ROW, keep="first", maintain_order=True)
    inputs = [c for c in raw.columns if c != SOURCE_ROW]
    return (
        raw.lazy()
        .with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
        .join(outcome_frame.lazy(), on=SOURCE_ROW, how="left", maintain_order="left")
        # A cell written escaped by us before (a report fed back as input) is taken at its value, so that
        # writing it escapes it once again rather than twice: '=X stays '=X, never ''=X.
        .select(*(unescape_expr(c).alias(c) for c in inputs), *OUTCOME_COLUMNS)
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


def write_report(report: pl.DataFrame, path: str | Path) -> Path:
    """Write the reconciliation file (formula-safe CSV), creating its folder if needed."""
    path = check_report_path(path)
    try:
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
