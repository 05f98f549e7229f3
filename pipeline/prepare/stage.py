"""Library entry points; the CLI is a thin layer over these.

Every function here raises only :class:`pipeline.errors.PipelineError` subclasses for problems a user can
cause; per-row problems are returned as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import ConfigError, InputError
from pipeline.fields import Specs, load_specs
from pipeline.prepare.group import AccountConflicts, Grouped, group
from pipeline.prepare.mapping import ColumnMap, load_mapping, resolve_columns, to_canonical
from pipeline.prepare.normalize import normalize
from pipeline.prepare.read import RawTable, read_table
from pipeline.prepare.validate import validate
from pipeline.report.reconcile import build_report, summarize

ACCOUNT_CONFLICT_MODES: tuple[AccountConflicts, ...] = ("error", "first")


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
class ValidationResult:
    """Everything one validation pass produced, stage by stage."""

    raw: RawTable
    columns: ColumnMap
    normalized: pl.DataFrame
    failures: pl.DataFrame
    grouped: Grouped
    report: pl.DataFrame
    summary: ValidationSummary
    warnings: list[str]


# A file of thousands of unknown columns should not print them all: the first few say what is going on.
MAX_LISTED_COLUMNS = 20


def listed_columns(names: tuple[str, ...]) -> str:
    """``names`` joined for a message, cut after :data:`MAX_LISTED_COLUMNS` with how many more there are."""
    shown = ", ".join(names[:MAX_LISTED_COLUMNS])
    more = len(names) - MAX_LISTED_COLUMNS
    return f"{shown} and {more} more" if more > 0 else shown


def ignored_columns_warning(columns: ColumnMap) -> str | None:
    """The one warning naming the input columns that fill no field, or None when all are used."""
    if not columns.ignored:
        return None
    return "columns not mapped to any field were ignored: " + listed_columns(columns.ignored)


def _conflict_mode(account_conflicts: str) -> AccountConflicts:
    if account_conflicts not in ACCOUNT_CONFLICT_MODES:
        raise ConfigError(f"--account-conflicts must be 'error' or 'first', not {account_conflicts!r}")
    return "first" if account_conflicts == "first" else "error"


def validate_file(
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    default_region: str = "US",
    account_conflicts: str = "error",
    specs: Specs | None = None,
) -> ValidationResult:
    """Read, map, normalize, validate and group one input file, without any API call."""
    _conflict_mode(account_conflicts)  # a bad option is reported before the file is read
    return validate_table(
        read_table(path),
        mapping=mapping,
        default_region=default_region,
        account_conflicts=account_conflicts,
        specs=specs,
    )


def validate_table(
    raw: RawTable,
    *,
    mapping: str | Path | None = None,
    default_region: str = "US",
    account_conflicts: str = "error",
    specs: Specs | None = None,
) -> ValidationResult:
    """Map, normalize, validate and group a table already read (all of it, or the rows chosen to re-run)."""
    mode = _conflict_mode(account_conflicts)
    specs = specs or load_specs()
    user_mapping = load_mapping(mapping, specs) if mapping is not None else None

    try:
        columns = resolve_columns(raw.headers, specs, user_mapping)
    except InputError as err:
        # The header problems concern the input file: name it, as the reader's errors do.
        raise type(err)(f"{raw.path}: {err}") from None
    normalized = normalize(to_canonical(raw.frame, columns), specs, default_region=default_region)
    constants = tuple(columns.constants)
    failures = validate(normalized, specs, columns.headers_for, constants=constants)
    grouped = group(
        normalized,
        failures,
        specs,
        account_conflicts=mode,
        headers_for=columns.headers_for,
        constants=constants,
    )
    report = build_report(raw.frame, grouped.outcomes)

    warnings = list(raw.warnings)
    if columns.missing:
        warnings.append(
            "the mapping file names columns this file does not have: "
            + ", ".join(repr(h) for h in columns.missing)
        )
    if (ignored := ignored_columns_warning(columns)) is not None:
        warnings.append(ignored)
    warnings.extend(grouped.warnings)
    counts = summarize(report)
    summary = ValidationSummary(
        rows_read=raw.frame.height,
        valid_contacts=grouped.contacts.height,
        valid_organizations=grouped.organizations.height,
        invalid_rows=counts.invalid_rows,
        # Skipped contacts need no count of their own here: grouping skips a contact only when its
        # row's account part is invalid or in conflict, so the row is already counted under that.
        conflict_rows=counts.conflict_rows,
        warnings=len(warnings),
    )
    return ValidationResult(raw, columns, normalized, failures, grouped, report, summary, warnings)
