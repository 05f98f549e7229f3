"""The reconciliation file written chunk by chunk, for inputs too large to hold twice in memory.

The outcomes are a narrow frame (``source_row`` and the outcome columns, sorted by ``source_row``); the
input is read again with :func:`pipeline.prepare.chunks.open_chunks` and each chunk is joined to its slice
of outcomes and appended. The CSV has the same bytes :func:`pipeline.report.reconcile.write_report` writes
for the whole report at once: header once, every cell and header formula-escaped, written to a temporary
file that replaces ``path`` only once complete. A workbook is built in memory (Excel caps a sheet at about
a million rows anyway).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl

from pipeline.csvsafe import escape_headers
from pipeline.errors import ConfigError, InputError
from pipeline.files import atomic_path
from pipeline.outcomes import SOURCE_ROW
from pipeline.prefetch import ahead
from pipeline.prepare.chunks import TableChunks
from pipeline.report.reconcile import build_report, check_report_path, report_format, write_report
from pipeline.workbook import MAX_ROWS


def report_pages(
    table: TableChunks,
    outcomes: pl.DataFrame,
    run: Mapping[str, str | None] | None = None,
    *,
    escaped: bool = False,
) -> Iterator[pl.DataFrame]:
    """The report of each chunk of ``table`` in input order (one empty page for a file without rows),
    with ``run``'s columns last as :func:`~pipeline.report.reconcile.build_report` adds them;
    ``escaped``: its cells as a CSV file writes them (see :func:`build_report`).

    ``outcomes`` must be sorted by ``source_row``; chunks come in input order, so each chunk's outcomes
    are one contiguous slice, found by binary search rather than a join over all of them.
    """
    numbers = outcomes.get_column(SOURCE_ROW).cast(pl.Int64)
    empty: pl.DataFrame | None = None
    written = False
    seen = 0
    # Reading the next chunk (in a worker) overlaps building this page (in the caller's worker, see
    # :func:`write_report_streamed`) and writing the one before.
    for raw in ahead(table.chunks, name="report-read"):
        if raw.height == 0:
            empty = raw
            continue
        rows = raw.get_column(SOURCE_ROW).cast(pl.Int64)
        first, last = rows.item(0), rows.item(-1)
        start = int(numbers.search_sorted(first, side="left"))
        end = int(numbers.search_sorted(last, side="right"))
        if end - start != raw.height:
            # Every row read the first time has one outcome: a mismatch means the file is not the one
            # staged (edited or replaced meanwhile), and its report would pair rows with others' outcomes.
            raise InputError(
                f"{table.path}: the file changed while it was being processed (rows {first}-{last} no "
                "longer match what was read before); nothing was written: run the command again"
            )
        written = True
        seen += raw.height
        yield build_report(raw, outcomes.slice(start, end - start), run, escaped=escaped)
    if seen != outcomes.height:
        raise InputError(
            f"{table.path}: the file changed while it was being processed ({outcomes.height} rows were "
            f"read, now {seen}); nothing was written: run the command again"
        )
    if not written:
        if empty is None:
            empty = pl.DataFrame(schema={SOURCE_ROW: pl.Int64, **dict.fromkeys(table.headers, pl.String)})
        yield build_report(empty, outcomes.clear(), run, escaped=escaped)


def write_report_streamed(
    table: TableChunks,
    outcomes: pl.DataFrame,
    path: str | Path,
    *,
    run: Mapping[str, str | None] | None = None,
    summary: Mapping[str, object] | None = None,
) -> Path:
    """Write the report of ``table`` with ``outcomes`` (and ``run``'s columns) to ``path``: CSV streamed,
    or .xlsx in memory, whose Summary sheet lists ``summary`` (default: the report's counts)."""
    path = check_report_path(path)
    if report_format(path) == "xlsx" and outcomes.height > MAX_ROWS - 1:
        # Said before the whole report is built in memory only for the workbook writer to refuse it.
        raise ConfigError(
            f"{outcomes.height} rows do not fit in one .xlsx sheet (at most {MAX_ROWS - 1}); write the "
            "report as CSV"
        )
    try:
        if report_format(path) == "xlsx":
            return write_report(pl.concat(list(report_pages(table, outcomes, run))), path, summary)
        with atomic_path(path) as temp, temp.open("wb") as out:
            pages = report_pages(table, outcomes, run, escaped=True)
            for index, safe in enumerate(ahead(pages, name="report")):
                if index == 0:
                    escape_headers(safe).write_csv(out)
                else:
                    safe.write_csv(out, include_header=False)
    except OSError as err:
        raise ConfigError(f"cannot write the report to {path}: {err.strerror or err}") from None
    return path
