"""The import job: read and prepare the file, push it (:mod:`pipeline.importing.push_file`) under the
journal, and write the reconciliation file and its summary (``<report stem>.summary.json``)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import asyncrun
from pipeline.errors import ConfigError, InputError, RunError
from pipeline.fields import load_specs
from pipeline.files import check_outputs, deleted_records_path, write_text_atomic
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.chunked_job import (
    check_report_fits,
    chunked_input,
    every_row,
    is_large,
    push_parts,
    spill_folder,
    stage_parts,
)
from pipeline.importing.deletions import present_keys
from pipeline.importing.options import ImportOptions, Progress
from pipeline.importing.push_file import push_grouped
from pipeline.importing.with_client import Pushed, push_with_client
from pipeline.journal.ledger import RunLedger
from pipeline.journal.run import Resume, journaled_run
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare.read import RawTable
from pipeline.prepare.stage import PrepareOptions, prepare_table, read_input
from pipeline.report.merge import row_succeeded
from pipeline.report.reconcile import build_report, check_report_path, summarize, write_report
from pipeline.report.streamed import report_pages, write_report_streamed
from pipeline.report.summary import ImportResult, ImportSummary, flatten, summary_path

__all__ = ["ImportOptions", "Progress", "import_file"]


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


@dataclass(frozen=True)
class FileOptions:
    """Which rows run and where the report goes; recorded with a run so a resume does alike."""

    report_path: str | None = None
    only_failed: bool = False


def _absolute(path: str | Path | None) -> str | None:
    return str(Path(path).resolve()) if path is not None else None


def _recorded_options(
    options: ImportOptions, prepare: PrepareOptions, file: FileOptions, settings: ClientSettings
) -> dict[str, Any]:
    """What a run records of its options: no credentials, paths made absolute so a resume finds them."""
    chosen = asdict(options)
    chosen.pop("concurrency")  # how fast, not what: a resume may pick another
    return {
        "import": chosen,
        "prepare": {**asdict(prepare), "mapping": _absolute(prepare.mapping)},
        "file": asdict(replace(file, report_path=_absolute(file.report_path))),
        "api": settings.api_base_url,
    }


def _not_default(*chosen: Any) -> set[str]:
    """Names of the options whose value is not their default: what a library caller chose."""
    return {
        name
        for options in chosen
        for name, value in asdict(options).items()
        if value != asdict(type(options)())[name]
    }


def _known(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def _restored_options(
    recorded: dict[str, Any], current: ImportOptions
) -> tuple[ImportOptions, PrepareOptions, FileOptions]:
    chosen = {
        k: v for k, v in _known(ImportOptions, recorded.get("import", {})).items() if k != "concurrency"
    }
    chosen["match"] = tuple(chosen.get("match", ()))
    # Runs recorded before the prepare options had their own entry kept them under "file".
    prepare = _known(PrepareOptions, {**recorded.get("file", {}), **recorded.get("prepare", {})})
    if prepare.get("mapping") is not None:
        prepare["mapping"] = Path(prepare["mapping"])
    return (
        ImportOptions(**chosen, concurrency=current.concurrency),
        PrepareOptions(**prepare),
        FileOptions(**_known(FileOptions, recorded.get("file", {}))),
    )


def _check_outputs(
    path: str | Path,
    prepare: PrepareOptions,
    report_path: str | Path | None,
    journal: str | Path | None,
    options: ImportOptions,
) -> None:
    if report_path is None:
        if options.delete_missing:
            raise ConfigError(
                "--delete-missing needs a report path: the deleted records are written next to it"
            )
        return
    # Never over what the run reads (an --only-failed input is the previous report: refused too).
    outputs = {"--report": report_path, "the summary": summary_path(Path(report_path))}
    if options.delete_missing:
        outputs["the deleted-records file"] = deleted_records_path(report_path)
    check_outputs(outputs, {"the input file": path, "--mapping": prepare.mapping, "the journal": journal})
    check_report_path(report_path)  # before anything is sent: the report is the record of what was


def import_file(
    path: str | Path,
    settings: ClientSettings,
    options: ImportOptions,
    *,
    prepare: PrepareOptions | None = None,
    report_path: str | Path | None = None,
    only_failed: bool = False,
    progress: Progress | None = None,
    journal: str | Path | None = None,
    resume: Resume = None,
    target: str | None = None,
    remember: bool = True,
    given: Collection[str] | None = None,
) -> ImportResult:
    """Prepare a file, push what is valid, and write the reconciliation file and its summary file.

    With a ``journal`` (SQLite file) the run is recorded batch by batch under its lock, records identical
    to their last successful push are ``unchanged`` and not sent (unless ``options.full``), and
    ``resume`` (a run id, or ``"last"`` for the newest unfinished run of this file) goes on with an
    interrupted run, using the options it was started with. Ctrl-C raises ``RunInterruptedError``.
    Pushed records are remembered per ``target`` (default: the API base URL) and external source;
    ``remember=False`` is for targets that forget between runs (an in-memory sandbox). ``given`` names
    the options the caller chose (default: those not at their defaults); a resume refuses those that differ
    from the run's unless they are safe to change (:func:`pipeline.journal.run.resume_options`).
    """
    started = time.monotonic()
    prepare = prepare or PrepareOptions()
    # A large file is read chunk by chunk when it is staged; a report fed back is read whole anyway.
    raw = read_input(path, prepare) if only_failed or not is_large(path) else None
    if options.delete_missing and only_failed:
        raise ConfigError(
            "--delete-missing needs the whole file to know which keys are gone; it cannot be combined "
            "with --only-failed"
        )
    _check_outputs(path, prepare, report_path, journal, options)
    file = FileOptions(
        report_path=str(report_path) if report_path is not None else None, only_failed=only_failed
    )
    job = _Job(path, settings, started, progress or Progress())
    if journal is None:
        if options.save_before and not options.dry_run:
            raise ConfigError("--save-before keeps the before-images in the journal: it needs one")
        if resume is not None:
            raise ConfigError("resuming a run needs the journal it was recorded in")
        return job.run(raw, options, prepare, file)
    where = (target or settings.api_base_url) if remember else None
    return _run_journaled(job, raw, options, prepare, file, journal=journal, resume=resume, where=where,
                          given=given)  # fmt: skip


def _run_journaled(
    job: _Job,
    raw: RawTable | None,
    options: ImportOptions,
    prepare: PrepareOptions,
    file: FileOptions,
    *,
    journal: str | Path,
    resume: Resume,
    where: str | None,
    given: Collection[str] | None,
) -> ImportResult:
    """The job under the journal's lock, recorded as a run (or going on with the run ``resume`` names,
    with the options it recorded)."""
    if resume is not None and options.dry_run:
        raise ConfigError("a dry run cannot resume a run (it would change nothing)")
    recorded = _recorded_options(options, prepare, file, job.settings)
    if given is None:
        given = _not_default(options, prepare, file)
    with journaled_run(
        journal, job.path, options=recorded, dry_run=options.dry_run, resume=resume, target=where, given=given
    ) as run:
        if run.resumed:
            options, restored, file = _restored_options(run.options, options)
            if raw is not None and (restored.encoding, restored.sheet) != (prepare.encoding, prepare.sheet):
                raw = read_input(job.path, restored)  # read as the run read it
            prepare = restored
        result = job.run(raw, options, prepare, file, ledger=run.ledger)
        run.counts = result.summary.to_json()
        run.report_path = _absolute(result.summary.report_path)
    return result


@dataclass(frozen=True)
class _Job:
    """One import of one file, step by step: prepare, push, reconcile, write."""

    path: str | Path
    settings: ClientSettings
    started: float
    progress: Progress

    def run(
        self,
        raw: RawTable | None,
        options: ImportOptions,
        prepare: PrepareOptions,
        file: FileOptions,
        *,
        ledger: RunLedger | None = None,
    ) -> ImportResult:
        if raw is None or is_large(self.path):
            return self.run_chunked(raw, options, prepare, file, ledger)
        carried = None
        if file.only_failed:
            raw_subset, carried = _rows_to_rerun(raw)
        else:
            raw_subset = raw
        prepared = prepare_table(raw_subset, prepare)
        self.progress.warn(*prepared.warnings)
        done = asyncrun.run(
            push_with_client(
                self.settings,
                lambda client: push_grouped(
                    client,
                    prepared.grouped,
                    prepared.grouped.outcomes,
                    options,
                    rate_limit=self.settings.rate_limit_per_minute,
                    progress=self.progress,
                    ledger=ledger,
                ),
                options,
                present=lambda: present_keys(prepared.normalized),
                rows=prepared.raw.frame.height,
                ledger=ledger,
                deleted_path=_deleted_path(options, file),
            )
        )
        outcomes = done.pushed.outcomes
        if carried is not None and carried.height:
            outcomes = pl.concat([outcomes, carried.select(outcomes.columns)]).sort(SOURCE_ROW)
        report = build_report(raw.frame, outcomes, _run_columns(options, ledger))
        summary = self.summary(report, done, options, file, ledger)
        if file.report_path is not None:
            written = Path(file.report_path)
            self.write(lambda sheet: write_report(report, written, sheet), summary, written)
        return ImportResult(report, summary, [*prepared.warnings, *done.pushed.warnings])

    def run_chunked(
        self,
        raw: RawTable | None,
        options: ImportOptions,
        prepare: PrepareOptions,
        file: FileOptions,
        ledger: RunLedger | None,
    ) -> ImportResult:
        """A large file: staged chunk by chunk, pushed partition by partition, its report streamed
        (:mod:`pipeline.importing.chunked_job`)."""
        rerun, carried = _rows_to_rerun(raw) if file.only_failed and raw is not None else (None, None)
        source = chunked_input(self.path, prepare, rerun, raw)
        specs = load_specs()
        with spill_folder() as folder:
            staged = stage_parts(
                source.table,
                prepare,
                specs,
                folder,
                partitions=source.partitions,
                keys=options.delete_missing,
            )
            self.progress.warn(*staged.warnings)
            rows = staged.source_rows.len() + (carried.height if carried is not None else 0)
            check_report_fits(file.report_path, rows)

            records = functools.partial(
                push_parts,
                parts=staged.parts,
                options=options,
                rate_limit=self.settings.rate_limit_per_minute,
                specs=specs,
                progress=self.progress,
                ledger=ledger,
            )
            done = asyncrun.run(
                push_with_client(
                    self.settings,
                    records,
                    options,
                    present=lambda: staged.keys,
                    rows=rows,
                    ledger=ledger,
                    deleted_path=_deleted_path(options, file),
                )
            )
        outcomes = every_row(staged.source_rows, done.pushed.outcomes, carried)
        run = _run_columns(options, ledger)
        summary = self.summary(outcomes, done, options, file, ledger)
        if file.report_path is not None:
            written = Path(file.report_path)
            self.write(
                lambda sheet: write_report_streamed(
                    source.reopen(), outcomes, written, run=run, summary=sheet
                ),
                summary,
                written,
            )

        def report() -> pl.DataFrame:
            return pl.concat(list(report_pages(source.reopen(), outcomes, run)))

        return ImportResult(report, summary, [*staged.warnings, *done.pushed.warnings], outcomes)

    def summary(
        self,
        outcomes: pl.DataFrame,
        done: Pushed,
        options: ImportOptions,
        file: FileOptions,
        ledger: RunLedger | None,
    ) -> ImportSummary:
        counts = summarize(outcomes)  # the outcome columns are enough
        pushed = done.pushed
        return ImportSummary(
            input_path=str(self.path),
            report_path=str(Path(file.report_path)) if file.report_path is not None else None,
            dry_run=options.dry_run,
            rows=counts.rows,
            rows_succeeded=counts.succeeded_rows,
            rows_not_succeeded=counts.rows - counts.succeeded_rows,
            organization_rows=counts.organization,
            contact_rows=counts.contact,
            organizations=pushed.organizations,
            contacts=pushed.contacts,
            duration_s=time.monotonic() - self.started,
            entity_retries=pushed.entity_retries,
            match_lookups=pushed.match_lookups,
            run_id=ledger.run_id if ledger is not None else None,
            deletions=done.deleted.counts if done.deleted is not None else None,
            deleted_path=str(done.deleted.path) if done.deleted is not None else None,
            **done.client_stats,
        )

    @staticmethod
    def write(report: Callable[[dict[str, object]], object], summary: ImportSummary, written: Path) -> None:
        """The reconciliation file (``report`` writes it, given the summary for a workbook's sheet), then
        the summary beside it."""
        try:
            report(flatten(summary.to_json()))
            write_text_atomic(summary_path(written), json.dumps(summary.to_json(), indent=2) + "\n")
        except (ConfigError, InputError, OSError) as err:
            # The report cannot be written, or a large input changed since it was staged (its report reads
            # it again): the records are pushed by now, so this is a run that could not finish, not a
            # usage error.
            raise RunError(f"{err}; the records were pushed, and their outcomes are in the journal") from None


def _deleted_path(options: ImportOptions, file: FileOptions) -> Path | None:
    if options.delete_missing and file.report_path is not None:
        return deleted_records_path(file.report_path)
    return None


def _run_columns(options: ImportOptions, ledger: RunLedger | None) -> dict[str, str | None]:
    run_id = ledger.run_id if ledger is not None else None
    return {"run_id": None if run_id is None else str(run_id), "dry_run": str(options.dry_run).lower()}
