"""The prepare stage as one call: read, map, normalize, validate and group a file, without any API call.

Every function here raises only :class:`pipeline.errors.PipelineError` subclasses for problems a user can
cause; per-row problems are returned as data. What the stage produced is reported by
:mod:`pipeline.report.validation` (``validate``) or pushed and reconciled (``import``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import ConfigError, InputError
from pipeline.fields import Specs, load_specs
from pipeline.prepare.group import (
    ACCOUNT_CONFLICT_MODES,
    DEFAULT_ACCOUNT_CONFLICTS,
    AccountConflicts,
    Grouped,
    group,
)
from pipeline.prepare.mapping import ColumnMap, load_mapping, resolve_columns, to_canonical
from pipeline.prepare.normalize import normalize
from pipeline.prepare.read import RawTable, read_table
from pipeline.prepare.validate import validate

# Phone numbers written without a country code are read in this region unless told otherwise.
DEFAULT_REGION = "US"


@dataclass(frozen=True)
class PrepareOptions:
    """How an input file is read and turned into records; the same for ``validate`` and ``import``."""

    mapping: Path | None = None
    default_region: str = DEFAULT_REGION
    account_conflicts: AccountConflicts = DEFAULT_ACCOUNT_CONFLICTS
    # Read the file in this encoding instead of detecting it (cp1252, latin-1, utf-16, ...).
    encoding: str | None = None
    # The sheet of an Excel workbook to read: its name, or its 1-based position; None for the first.
    sheet: str | int | None = None

    def __post_init__(self) -> None:
        # A bad option is reported before any file is read.
        if self.account_conflicts not in ACCOUNT_CONFLICT_MODES:
            modes = " or ".join(repr(m) for m in ACCOUNT_CONFLICT_MODES)
            raise ConfigError(f"--account-conflicts must be {modes}, not {self.account_conflicts!r}")


@dataclass(frozen=True)
class Prepared:
    """Everything the prepare stage produced, step by step: records to push and rows already settled."""

    raw: RawTable
    columns: ColumnMap
    normalized: pl.DataFrame
    failures: pl.DataFrame
    grouped: Grouped
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


def read_input(path: str | Path, options: PrepareOptions) -> RawTable:
    """Read the input file as ``options`` say."""
    return read_table(path, encoding=options.encoding, sheet=options.sheet)


def prepare_file(path: str | Path, options: PrepareOptions, *, specs: Specs | None = None) -> Prepared:
    """Read, map, normalize, validate and group one input file."""
    return prepare_table(read_input(path, options), options, specs=specs)


def resolve_input_columns(
    headers: tuple[str, ...], path: Path, specs: Specs, mapping: Path | None
) -> ColumnMap:
    """The input's columns resolved to fields (once per file, from its headers)."""
    user_mapping = load_mapping(mapping, specs) if mapping is not None else None
    try:
        return resolve_columns(headers, specs, user_mapping)
    except InputError as err:
        # The header problems concern the input file: name it, as the reader's errors do.
        raise type(err)(f"{path}: {err}") from None


def stage_warnings(
    reader_warnings: Iterable[str], columns: ColumnMap, group_warnings: list[str]
) -> list[str]:
    """Every warning of the stage in the order users see them: reading, columns, then grouping."""
    warnings = list(reader_warnings)
    if columns.missing:
        warnings.append(
            "the mapping file names columns this file does not have: "
            + ", ".join(repr(h) for h in columns.missing)
        )
    if (ignored := ignored_columns_warning(columns)) is not None:
        warnings.append(ignored)
    warnings.extend(group_warnings)
    return warnings


def prepare_table(raw: RawTable, options: PrepareOptions, *, specs: Specs | None = None) -> Prepared:
    """Map, normalize, validate and group a table already read (all of it, or the rows chosen to re-run)."""
    specs = specs or load_specs()
    columns = resolve_input_columns(raw.headers, raw.path, specs, options.mapping)
    normalized = normalize(to_canonical(raw.frame, columns), specs, default_region=options.default_region)
    constants = tuple(columns.constants)
    failures = validate(normalized, specs, columns.headers_for, constants=constants)
    grouped = group(
        normalized,
        failures,
        specs,
        account_conflicts=options.account_conflicts,
        headers_for=columns.headers_for,
        constants=constants,
    )
    warnings = stage_warnings(raw.warnings, columns, grouped.warnings)
    return Prepared(raw, columns, normalized, failures, grouped, warnings)
