"""What ``contacts-pipeline validate`` reports: the reconciliation frame of a prepared file and its counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.fields import Specs
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW, Status
from pipeline.prepare.group import SOURCE_ROWS, Grouped
from pipeline.prepare.stage import Prepared, PrepareOptions, prepare_file
from pipeline.report.reconcile import build_report, summarize


@dataclass(frozen=True)
class ValidationSummary:
    """The counts ``contacts-pipeline validate`` prints."""

    rows_read: int
    valid_contacts: int
    valid_organizations: int
    invalid_rows: int
    conflict_rows: int
    warnings: int

    @property
    def all_valid(self) -> bool:
        return self.invalid_rows == 0 and self.conflict_rows == 0


@dataclass(frozen=True)
class ValidationReport:
    """A prepared file, its report (every input row, outcome columns filled where settled) and counts."""

    prepared: Prepared
    report: pl.DataFrame
    summary: ValidationSummary


def _parts_valid(grouped: Grouped) -> pl.DataFrame:
    """The outcomes with ``valid`` for every part that passed: the rows of each record grouping kept."""

    def rows_of(records: pl.DataFrame, status: str) -> pl.DataFrame:
        return (
            records.select(pl.col(SOURCE_ROWS).explode().cast(pl.Int64).alias(SOURCE_ROW))
            .unique(SOURCE_ROW)
            .with_columns(pl.lit(str(Status.VALID)).alias(status))
        )

    outcomes = grouped.outcomes.select(OUTCOME_COLUMNS)
    parts = ((grouped.organizations, "organization_status"), (grouped.contacts, "contact_status"))
    for records, status in parts:
        passed = rows_of(records, f"{status}_passed")
        outcomes = (
            outcomes.join(passed, on=SOURCE_ROW, how="full", coalesce=True)
            .with_columns(pl.coalesce(status, f"{status}_passed").alias(status))
            .drop(f"{status}_passed")
        )
    return outcomes.sort(SOURCE_ROW)


def validation_report(prepared: Prepared) -> ValidationReport:
    """Build the validation report of a prepared file, once."""
    grouped = prepared.grouped
    report = build_report(prepared.raw.frame, _parts_valid(grouped))
    counts = summarize(report)
    summary = ValidationSummary(
        rows_read=prepared.raw.frame.height,
        valid_contacts=grouped.contacts.height,
        valid_organizations=grouped.organizations.height,
        invalid_rows=counts.invalid_rows,
        # Skipped contacts need no count of their own here: grouping skips a contact only when its
        # row's account part is invalid or in conflict, so the row is already counted under that.
        conflict_rows=counts.conflict_rows,
        warnings=len(prepared.warnings),
    )
    return ValidationReport(prepared, report, summary)


def validate_file(
    path: str | Path, options: PrepareOptions | None = None, *, specs: Specs | None = None
) -> ValidationReport:
    """Prepare one input file without any API call and report on it: the library side of ``validate``."""
    return validation_report(prepare_file(path, options or PrepareOptions(), specs=specs))
