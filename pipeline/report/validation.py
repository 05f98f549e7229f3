"""What ``contacts-pipeline validate`` reports: the reconciliation frame of a prepared file and its counts.

Two ways, one result: a file of up to :data:`IN_MEMORY_BYTES` is prepared in memory (:mod:`.stage`), a
larger one chunk by chunk with its rows spilled to disk (:mod:`pipeline.prepare.chunked`). Either way
the outcomes are kept as a narrow frame and the report is written by reading the input again, chunk by
chunk, so that a large file's report never sits in memory beside its rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl

from pipeline.errors import InputError
from pipeline.fields import Specs, load_specs
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW, Status
from pipeline.prepare.chunked import chunked_stage, partitions_for
from pipeline.prepare.chunks import DEFAULT_CHUNK_ROWS, TableChunks, chunks_of, open_again, open_chunks
from pipeline.prepare.group import SOURCE_ROWS, Grouped
from pipeline.prepare.mapping import ColumnMap
from pipeline.prepare.stage import (
    Prepared,
    PrepareOptions,
    prepare_file,
    resolve_input_columns,
    stage_warnings,
)
from pipeline.report.reconcile import summarize
from pipeline.report.streamed import report_pages, write_report_streamed

# Files up to this size are prepared in memory: below it the chunked stage's spill to disk costs more
# than it saves (measured with bench/local_stage.py; see docs/architecture.md).
IN_MEMORY_BYTES = 32 * 1024 * 1024


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
class InputInfo:
    """What the reader found out about the input file, for the summary's first line."""

    path: Path
    encoding: str
    delimiter: str
    sheet: str | None


@dataclass(frozen=True)
class ValidationReport:
    """A validated file: its outcomes (narrow, by ``source_row``), counts, warnings, and its report."""

    source: InputInfo
    columns: ColumnMap
    warnings: list[str]
    # Every row with a status, sorted by source_row: the outcome columns only, not the input's.
    outcomes: pl.DataFrame
    summary: ValidationSummary
    # Reads the input again, chunk by chunk, to join the outcomes onto it.
    reopen: Callable[[], TableChunks]
    # The whole prepared file, on the in-memory path only (None for a file staged chunk by chunk).
    prepared: Prepared | None = None

    @cached_property
    def report(self) -> pl.DataFrame:
        """The whole report in memory (every input row and its outcome), built on first use."""
        return pl.concat(list(report_pages(self.reopen(), self.outcomes)))

    def write_report(self, path: str | Path) -> Path:
        """Write the report to ``path`` (CSV streamed chunk by chunk, or .xlsx)."""
        return write_report_streamed(self.reopen(), self.outcomes, path)


def parts_valid(grouped: Grouped) -> pl.DataFrame:
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


def _summary(
    outcomes: pl.DataFrame, rows: int, organizations: int, contacts: int, warnings: int
) -> ValidationSummary:
    counts = summarize(outcomes)
    return ValidationSummary(
        rows_read=rows,
        valid_contacts=contacts,
        valid_organizations=organizations,
        invalid_rows=counts.invalid_rows,
        # Skipped contacts need no count of their own here: grouping skips a contact only when its
        # row's account part is invalid or in conflict, so the row is already counted under that.
        conflict_rows=counts.conflict_rows,
        warnings=warnings,
    )


def validation_report(prepared: Prepared) -> ValidationReport:
    """The validation report of a file prepared in memory."""
    grouped, raw = prepared.grouped, prepared.raw
    outcomes = parts_valid(grouped)
    summary = _summary(
        outcomes,
        raw.frame.height,
        grouped.organizations.height,
        grouped.contacts.height,
        len(prepared.warnings),
    )
    source = InputInfo(raw.path, raw.encoding, raw.delimiter, raw.sheet)

    def reopen() -> TableChunks:
        return chunks_of(raw, max(raw.frame.height, 1))

    return ValidationReport(source, prepared.columns, prepared.warnings, outcomes, summary, reopen, prepared)


def validate_chunked(
    path: str | Path,
    options: PrepareOptions,
    *,
    specs: Specs | None = None,
    chunk_rows: int | None = None,
    partitions: int | None = None,
    on_part: Callable[[Grouped], object] | None = None,
    table: TableChunks | None = None,
) -> ValidationReport:
    """Validate ``path`` chunk by chunk, its rows spilled to a temporary folder removed before returning.

    ``on_part`` is called with each partition's grouping as it is settled (the benchmark plans the
    records there, as an import would push them). ``table`` is ``path`` already opened with
    ``chunk_rows`` (the benchmark times its reads); the report reads ``path`` again either way.
    """
    specs = specs or load_specs()
    rows = chunk_rows or DEFAULT_CHUNK_ROWS
    stamp = file_stamp(path)

    table = table or open_chunks(path, encoding=options.encoding, sheet=options.sheet, rows=rows)
    first = table

    def reopen() -> TableChunks:
        # The report reads the file again: it must still be the file staged (see :func:`check_unchanged`).
        check_unchanged(path, stamp)
        return open_again(first, rows=rows)

    columns = resolve_input_columns(table.headers, table.path, specs, options.mapping)
    pieces: list[pl.DataFrame] = []

    def settled(part: Grouped) -> None:
        pieces.append(parts_valid(part))
        if on_part is not None:
            on_part(part)

    staged = chunked_stage(
        table,
        columns,
        specs,
        default_region=options.default_region,
        account_conflicts=options.account_conflicts,
        on_part=settled,
        partitions=partitions or partitions_for(Path(path)),
    )
    outcomes = (
        pl.concat(pieces).sort(SOURCE_ROW)
        if pieces
        else pl.DataFrame(schema=dict.fromkeys(OUTCOME_COLUMNS, pl.String)).with_columns(
            pl.col(SOURCE_ROW).cast(pl.Int64)
        )
    )
    # The reader's warnings are complete only now that every chunk has been read.
    warnings = stage_warnings(table.warnings, columns, staged.group_warnings)
    summary = _summary(outcomes, staged.rows_read, staged.organizations, staged.contacts, len(warnings))
    source = InputInfo(table.path, table.encoding, table.delimiter, table.sheet)
    return ValidationReport(source, columns, warnings, outcomes, summary, reopen)


def file_stamp(path: str | Path) -> tuple[int, int]:
    info = Path(path).stat()
    return info.st_size, info.st_mtime_ns


def check_unchanged(path: str | Path, stamp: tuple[int, int]) -> None:
    """Refuse a file whose size or modification time moved since it was staged: its rows would be paired
    with other rows' outcomes. (An edit within the second read is caught by the row counts as well.)"""
    if file_stamp(path) != stamp:
        raise InputError(
            f"{path}: the file changed while it was being processed; nothing was written: run the "
            "command again"
        )


def validate_file(
    path: str | Path, options: PrepareOptions | None = None, *, specs: Specs | None = None
) -> ValidationReport:
    """Prepare one input file without any API call and report on it: the library side of ``validate``.

    A file larger than :data:`IN_MEMORY_BYTES` is staged chunk by chunk; the result is the same.
    """
    options = options or PrepareOptions()
    if Path(path).is_file() and Path(path).stat().st_size > IN_MEMORY_BYTES:
        return validate_chunked(path, options, specs=specs)
    return validation_report(prepare_file(path, options, specs=specs))
