"""What goes into the HTML run report, gathered from a reconciliation frame, the journal or a manifest.

Pure functions (frames and dataclasses in, :class:`~pipeline.report.html.RunReport` out), but for
:func:`journal_run_report`, which reads the journal and the run's reconciliation file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.csvsafe import unescape_expr
from pipeline.journal.records import BatchRecord
from pipeline.journal.store import Journal, RunInfo
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW
from pipeline.report.html import EXAMPLES_PER_CODE, ErrorCode, ErrorExample, RunReport, relative_href
from pipeline.report.reconcile import count_statuses

# The reconciliation columns this report reads, by position, so a renamed column is followed here.
_, ORGANIZATION_STATUS, _, CONTACT_STATUS, _, _, ERROR_CODE, ERROR_MESSAGE = OUTCOME_COLUMNS


def outcome_counts(report: pl.DataFrame) -> tuple[tuple[str, int], ...]:
    """Rows per organization status and per contact status, most frequent first within each part."""
    counts: list[tuple[str, int]] = []
    for column, part in ((ORGANIZATION_STATUS, "organization"), (CONTACT_STATUS, "contact")):
        if column in report.columns:
            counts += [(f"{part} {s}", n) for s, n in count_statuses(report.get_column(column)).items()]
    return tuple(counts)


def record_counts(records: Mapping[str, Mapping[str, int]]) -> tuple[tuple[str, int], ...]:
    """The journal's ``{kind: {status: n}}`` as bar labels, most frequent first within each kind."""
    return tuple(
        (f"{kind} {status}", n)
        for kind in sorted(records)
        for status, n in sorted(records[kind].items(), key=lambda item: (-item[1], item[0]))
    )


def rank_errors(rows: Iterable[tuple[str, str, str]]) -> tuple[ErrorCode, ...]:
    """``(code, where, message)`` rows grouped by code, most frequent first, with a few examples each."""
    grouped: dict[str, list[ErrorExample]] = {}
    for code, where, message in rows:
        grouped.setdefault(code, []).append(ErrorExample(where, message))
    ranked = sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0]))
    return tuple(ErrorCode(code, len(xs), tuple(xs[:EXAMPLES_PER_CODE])) for code, xs in ranked)


def report_errors(report: pl.DataFrame) -> tuple[ErrorCode, ...]:
    """The error codes of a reconciliation frame (its rows with one), with source rows as examples."""
    if ERROR_CODE not in report.columns:
        return ()
    rows = report.filter(pl.col(ERROR_CODE).is_not_null() & (pl.col(ERROR_CODE) != "")).select(
        pl.col(ERROR_CODE).cast(pl.String),
        pl.col(SOURCE_ROW).cast(pl.String),
        pl.col(ERROR_MESSAGE).cast(pl.String).fill_null(""),
    )
    return rank_errors(rows.iter_rows())


def _links(page: Path, files: Iterable[tuple[str, str | Path | None]]) -> tuple[tuple[str, str], ...]:
    return tuple((label, relative_href(path, page)) for label, path in files if path is not None)


def validation_run_report(
    input_path: Path, report: pl.DataFrame, page: Path, report_path: Path | None
) -> RunReport:
    """The page of a ``validate``."""
    return RunReport(
        title=f"Validation of {input_path.name}",
        facts=(("input", str(input_path)), ("rows", str(report.height))),
        counts=outcome_counts(report),
        errors=report_errors(report),
        links=_links(page, [("input file", input_path), ("reconciliation file", report_path)]),
    )


def import_run_report(
    summary: Mapping[str, Any],
    report: pl.DataFrame,
    batches: Iterable[BatchRecord],
    page: Path,
    files: Iterable[tuple[str, Path | None]],
) -> RunReport:
    """The page of an ``import``; ``summary`` is the content of its ``<report stem>.summary.json``."""
    rows = summary["rows"]
    facts = [
        ("run", str(summary.get("run") or "-")),
        ("input", str(summary["input"])),
        ("dry run", "yes" if summary["dry_run"] else "no"),
        ("rows", f"{rows['succeeded']} of {rows['total']} succeeded"),
        ("duration", f"{summary['duration_s']} s"),
        ("requests", f"{summary['requests_sent']} sent, {summary['throttled_429']} throttled (429), "
                     f"{summary['request_retries']} retried"),
    ]  # fmt: skip
    return RunReport(
        title=f"Import of {Path(summary['input']).name}",
        facts=tuple(facts),
        counts=outcome_counts(report),
        errors=report_errors(report),
        batches=tuple(batches),
        links=_links(page, files),
    )


def export_run_report(manifest: Mapping[str, Any], out: Path, manifest_path: Path, page: Path) -> RunReport:
    """The page of an ``export``: what was written (an export has no per-row errors or batches)."""
    records, counts = manifest["records"], manifest["counts"]
    return RunReport(
        title=f"Export to {out.name}",
        facts=(("file", str(out)), ("rows", str(manifest["rows"]))),
        counts=(
            ("exported contacts", int(records["contacts"])),
            ("exported organizations", int(records["organizations"])),
            ("contacts without external id", int(counts["contacts_without_external_id"])),
            ("organizations without external id", int(counts["organizations_without_external_id"])),
        ),
        links=_links(page, [("exported file", out), ("manifest", manifest_path)]),
    )


def _errors_of_run(journal: Journal, run: RunInfo) -> tuple[tuple[ErrorCode, ...], str | None]:
    """From the run's reconciliation file when it is still there (source rows), else from the journal
    (record keys); the second value says which, when it is the journal."""
    path = Path(run.report_path) if run.report_path else None
    if path is not None and path.is_file():
        try:
            frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
            frame = frame.with_columns(unescape_expr(ERROR_MESSAGE).alias(ERROR_MESSAGE))
            return report_errors(frame), None
        except (pl.exceptions.PolarsError, OSError):
            pass  # changed or unreadable since: the journal still knows the errors
    failures = journal.failures(run.id)
    note = "Errors from the journal (the reconciliation file is not there): rows are named by record key."
    return rank_errors((code, f"{kind} {key}", msg) for kind, key, code, msg in failures), note


def journal_run_report(journal: Journal, run: RunInfo, page: Path) -> RunReport:
    """The page of a recorded run, for ``runs show --html``."""
    errors, note = _errors_of_run(journal, run)
    facts = (
        ("run", f"{run.id}{' (dry run)' if run.dry_run else ''}"),
        ("state", str(run.state)),
        ("input", run.input_path),
        ("started", run.started_at),
        ("ended", run.ended_at or "-"),
        ("sessions", str(run.sessions)),
    )
    return RunReport(
        title=f"Run {run.id}: {Path(run.input_path).name}",
        facts=facts,
        counts=record_counts(run.records),
        errors=errors,
        batches=tuple(journal.batch_records(run.id)),
        links=_links(page, [("reconciliation file", run.report_path)]),
        notes=(note,) if note else (),
    )
