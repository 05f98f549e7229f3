"""The import job: read and validate the file, push it (:mod:`pipeline.importing.push_file`) under the
journal, and write the reconciliation file and SUMMARY.json."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import ConfigError, InputError, RunError
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.push_file import ImportOptions, Progress, PushReport, push_grouped
from pipeline.journal.run import Resume, journaled_run
from pipeline.journal.store import RunLedger
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare.read import RawTable, read_table
from pipeline.prepare.stage import ValidationResult, validate_table
from pipeline.report.merge import row_succeeded
from pipeline.report.reconcile import build_report, check_report_path, summarize, write_report
from pipeline.report.summary import ImportResult, ImportSummary, summary_path


def _rows_to_rerun(raw: RawTable) -> tuple[RawTable, pl.DataFrame]:
    """For --only-failed: the rows of a previous reconciliation file that did not succeed, and the
    previous outcomes of those that did (they are carried into the new report unchanged)."""
    previous = raw.previous
    if previous is None:
        raise InputError(
            f"{raw.path}: --only-failed needs a reconciliation file written by a previous import "
            "(it has no organization_status/contact_status columns)"
        )
    done = previous.filter(row_succeeded())
    rerun = raw.frame.join(done.select(SOURCE_ROW), on=SOURCE_ROW, how="anti", maintain_order="left")
    return replace(raw, frame=rerun), done


async def _push_with_client(
    settings: ClientSettings,
    validation: ValidationResult,
    options: ImportOptions,
    progress: Progress,
    ledger: RunLedger | None = None,
) -> tuple[PushReport, dict[str, int]]:
    async with GenesysClient(settings) as client:
        pushed = await push_grouped(
            client,
            validation.grouped,
            validation.grouped.outcomes,
            options,
            rate_limit=settings.rate_limit_per_minute,
            progress=progress,
            ledger=ledger,
        )
        stats = client.stats
        return pushed, {
            "requests_sent": stats.requests_sent,
            "throttled": stats.throttled,
            "retries": stats.retries,
        }


@dataclass(frozen=True)
class FileOptions:
    """How the input is read and where the report goes; recorded with a run so a resume reads alike."""

    mapping: str | None = None
    default_region: str = "US"
    account_conflicts: str = "error"
    report_path: str | None = None
    only_failed: bool = False


def _absolute(path: str | Path | None) -> str | None:
    return str(Path(path).resolve()) if path is not None else None


def _recorded_options(options: ImportOptions, file: FileOptions, settings: ClientSettings) -> dict[str, Any]:
    """What a run records of its options: no credentials, paths made absolute so a resume finds them."""
    chosen = asdict(options)
    chosen.pop("concurrency")  # how fast, not what: a resume may pick another
    where = replace(file, mapping=_absolute(file.mapping), report_path=_absolute(file.report_path))
    return {"import": chosen, "file": asdict(where), "api": settings.api_base_url}


def _restored_options(recorded: dict[str, Any], current: ImportOptions) -> tuple[ImportOptions, FileOptions]:
    known = {f.name for f in fields(ImportOptions)}
    chosen = {k: v for k, v in recorded.get("import", {}).items() if k in known and k != "concurrency"}
    chosen["match"] = tuple(chosen.get("match", ()))
    file_known = {f.name for f in fields(FileOptions)}
    file = FileOptions(**{k: v for k, v in recorded.get("file", {}).items() if k in file_known})
    return ImportOptions(**chosen, concurrency=current.concurrency), file


def import_file(
    path: str | Path,
    settings: ClientSettings,
    options: ImportOptions,
    *,
    mapping: str | Path | None = None,
    default_region: str = "US",
    account_conflicts: str = "error",
    report_path: str | Path | None = None,
    only_failed: bool = False,
    progress: Progress | None = None,
    journal: str | Path | None = None,
    resume: Resume = None,
    target: str | None = None,
    remember: bool = True,
) -> ImportResult:
    """Validate a file, push what is valid, and write the reconciliation file and SUMMARY.json.

    With a ``journal`` (SQLite file) the run is recorded batch by batch under its lock, records identical
    to their last successful push are ``unchanged`` and not sent (unless ``options.full``), and
    ``resume`` (a run id, or ``"last"`` for the newest unfinished run of this file) goes on with an
    interrupted run, using the options it was started with. Ctrl-C raises ``RunInterruptedError``.
    Pushed records are remembered per ``target`` (default: the API base URL) and external source;
    ``remember=False`` is for targets that forget between runs (an in-memory sandbox).
    """
    started = time.monotonic()
    raw = read_table(path)
    if report_path is not None:
        check_report_path(report_path)  # before anything is sent: the report is the record of what was
    file = FileOptions(
        mapping=str(mapping) if mapping is not None else None,
        default_region=default_region,
        account_conflicts=account_conflicts,
        report_path=str(report_path) if report_path is not None else None,
        only_failed=only_failed,
    )
    progress = progress or Progress()
    if journal is None:
        if resume is not None:
            raise ConfigError("resuming a run needs the journal it was recorded in")
        return _import(path, raw, settings, options, file, progress, started)
    if resume is not None and options.dry_run:
        raise ConfigError("a dry run cannot resume a run (it would change nothing)")
    recorded = _recorded_options(options, file, settings)
    where = (target or settings.api_base_url) if remember else None
    with journaled_run(
        journal, path, options=recorded, dry_run=options.dry_run, resume=resume, target=where
    ) as run:
        if run.resumed:
            options, file = _restored_options(run.options, options)
        result = _import(path, raw, settings, options, file, progress, started, ledger=run.ledger)
        run.counts = result.summary.to_json()
        run.report_path = _absolute(result.summary.report_path)
    return result


def _import(
    path: str | Path,
    raw: RawTable,
    settings: ClientSettings,
    options: ImportOptions,
    file: FileOptions,
    progress: Progress,
    started: float,
    *,
    ledger: RunLedger | None = None,
) -> ImportResult:
    mapping, report_path, only_failed = file.mapping, file.report_path, file.only_failed
    default_region, account_conflicts = file.default_region, file.account_conflicts
    carried = None
    if only_failed:
        raw_subset, carried = _rows_to_rerun(raw)
    else:
        raw_subset = raw
    validation = validate_table(
        raw_subset, mapping=mapping, default_region=default_region, account_conflicts=account_conflicts
    )
    progress.warn(*validation.warnings)
    pushed, client_stats = asyncio.run(_push_with_client(settings, validation, options, progress, ledger))
    outcomes = pushed.outcomes
    if carried is not None and carried.height:
        outcomes = pl.concat([outcomes, carried.select(outcomes.columns)]).sort(SOURCE_ROW)
    report = build_report(raw.frame, outcomes)
    succeeded = int(report.select(row_succeeded().sum()).item()) if report.height else 0
    counts = summarize(report)
    written = Path(report_path) if report_path is not None else None
    summary = ImportSummary(
        input_path=str(path),
        report_path=str(written) if written else None,
        dry_run=options.dry_run,
        rows=report.height,
        rows_succeeded=succeeded,
        rows_not_succeeded=report.height - succeeded,
        organization_rows=counts.organization,
        contact_rows=counts.contact,
        organizations=pushed.organizations,
        contacts=pushed.contacts,
        duration_s=time.monotonic() - started,
        entity_retries=pushed.entity_retries,
        run_id=ledger.run_id if ledger is not None else None,
        **client_stats,
    )
    if written is not None:
        try:
            write_report(report, written)
            summary_path(written).write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")
        except (ConfigError, OSError) as err:
            # The records are pushed by now: this is a run that could not finish, not a usage error.
            raise RunError(f"{err}; the records were pushed, and their outcomes are in the journal") from None
    return ImportResult(report, summary, [*validation.warnings, *pushed.warnings])
