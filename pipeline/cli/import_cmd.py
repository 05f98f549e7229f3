"""``contacts-pipeline import``: push a file to Genesys Cloud and write the reconciliation file."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline.cli.connection import api_options, rate_limit_option, sandbox_options, target
from pipeline.cli.connection import memory as _memory
from pipeline.cli.html_option import html_option, write_page
from pipeline.cli.prepare_options import prepare_options
from pipeline.cli.progress import import_snapshot, not_yet_shown, progress_display
from pipeline.cli.runs_cmd import explicit_options, journal_option
from pipeline.cli.summary import render_import_summary
from pipeline.files import check_outputs
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.job import ImportOptions, Progress, import_file
from pipeline.importing.matching import MATCH_POLICIES
from pipeline.importing.plan import BLANKS_MODES
from pipeline.journal.run import Resume
from pipeline.journal.store import Journal
from pipeline.prepare.stage import PrepareOptions
from pipeline.report.reconcile import REPORT_FORMATS, choose_report_path
from pipeline.report.run_report import import_run_report
from pipeline.report.summary import ImportResult, summary_path

MATCH_CHOICES = ("email", "phone")
F = TypeVar("F", bound=Callable[..., Any])


def _match(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    kinds = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    unknown = [k for k in kinds if k not in MATCH_CHOICES]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: use email and/or phone", param_hint="--match")
    return kinds


_DEFAULTS = ImportOptions()
# What shapes the records sent, in --help order; import_options hands them on as one ImportOptions.
_SEND_OPTIONS = {
    "external-source": click.option(
        "--external-source",
        default=_DEFAULTS.external_source,
        show_default=True,
        help="External source (exact name) that owns the Contact and Account IDs.",
    ),
    "create-source": click.option(
        "--create-source", is_flag=True, help="Create the external source if it does not exist."
    ),
    "division": click.option("--division", "division_id", help="Division id for every record."),
    "contact-schema": click.option("--contact-schema", help="Contact custom-field schema (name or id)."),
    "organization-schema": click.option(
        "--organization-schema", help="Organization custom-field schema (name or id)."
    ),
    "match": click.option(
        "--match", "match", help="Also match contacts by email and/or phone: --match email,phone."
    ),
    "match-policy": click.option(
        "--match-policy",
        type=click.Choice(MATCH_POLICIES),
        default=_DEFAULTS.match_policy,
        show_default=True,
        help="With --match: what confirms a contact found by email/phone (docs/matching.md).",
    ),
    "concurrency": click.option(
        "--concurrency", type=click.IntRange(min=1), help="Bulk requests in flight (default from rate)."
    ),
    "dry-run": click.option(
        "--dry-run", is_flag=True, help="Validate and ask the API with dryRun=true; change nothing."
    ),
    "full": click.option(
        "--full", is_flag=True, help="Send every record, even those unchanged since their last push."
    ),
    "blanks": click.option(
        "--blanks",
        type=click.Choice(BLANKS_MODES),
        default=_DEFAULTS.blanks,
        show_default=True,
        help="An empty cell in a column FILE has: keep the value stored in Genesys, or clear it.",
    ),
    "compare-live": click.option(
        "--compare-live",
        is_flag=True,
        help="Read the live records first; send only those whose stored values differ.",
    ),
    "delete-missing": click.option(
        "--delete-missing",
        is_flag=True,
        help="After the import, delete the source's records whose key FILE no longer has.",
    ),
    "max-delete": click.option(
        "--max-delete",
        default=_DEFAULTS.max_delete,
        show_default=True,
        help="Refuse --delete-missing above N records or P% of the source's records.",
    ),
    "save-before": click.option(
        "--save-before",
        is_flag=True,
        help="Journal each record's stored state before writing it, so `runs revert` can restore it. "
        "Costs reads: one request per 10 records the journal knows, else a scan of the source or one "
        "lookup per record; the journal then holds record contents (personal data).",
    ),
}


def _param_name(option: Callable[[Any], Any]) -> str:
    """The Python name click gives an option's value (``--division`` -> ``division_id``)."""

    def probe() -> None: ...

    option(probe)
    return str(probe.__click_params__[-1].name)  # type: ignore[attr-defined]


def _bundled(names: Sequence[str]) -> Callable[[F], F]:
    """A decorator adding the options ``names`` (in that --help order) and handing their values to the
    command as one ``options=ImportOptions(...)``: each option's value is the ImportOptions field of the
    same name; the fields not offered keep their defaults."""
    chosen = [_SEND_OPTIONS[name] for name in names]
    params = [_param_name(option) for option in chosen]

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def with_options(*args: Any, **kwargs: Any) -> Any:
            values = {param: kwargs.pop(param) for param in params}
            if "match" in values:
                values["match"] = _match(values["match"])
            return command(*args, options=ImportOptions(**values), **kwargs)

        # Applied bottom-up, as stacked decorators would be, so --help lists them in the given order.
        wrapped: Callable[..., Any] = with_options
        for option in reversed(chosen):
            wrapped = option(wrapped)
        return wrapped  # type: ignore[return-value]

    return decorate


# Everything that shapes what import sends.
import_options = _bundled(list(_SEND_OPTIONS))
# What records become and where (not how they are sent): what `plan` takes.
target_options = _bundled(
    ["external-source", "division", "contact-schema", "organization-schema", "match", "match-policy",
     "blanks", "delete-missing", "max-delete"]
)  # fmt: skip


def _render(result: ImportResult, journal: Path) -> None:
    """The summary table and the run's journal entry; exit 1 unless every row succeeded."""
    render_import_summary(result.summary)
    if result.summary.run_id is not None:
        click.echo(f"Run {result.summary.run_id} recorded in {journal} (see `contacts-pipeline runs`).")
    if not result.all_succeeded:
        raise click.exceptions.Exit(1)


def _write_html(result: ImportResult, file: Path, journal: Path, page: Path) -> None:
    """The HTML report of the run just done, its batches read back from the journal."""
    summary = result.summary
    batches = []
    if summary.run_id is not None:
        with Journal(journal, create=False) as db:
            batches = db.batch_records(summary.run_id)
    report = Path(summary.report_path) if summary.report_path else None
    files = [
        ("input file", file),
        ("reconciliation file", report),
        ("summary", summary_path(report) if report else None),
    ]
    # The page needs the outcome columns only: for a large file, the narrow frame, not the whole report.
    write_page(import_run_report(summary.to_json(), result.outcomes, batches, page, files), page)


def _resume(value: str | None) -> Resume:
    """``--resume`` alone means the newest unfinished run of FILE; ``--resume 7`` names run 7."""
    if value is None:
        return None
    if value == "last":
        return "last"
    if not value.isdigit():
        raise click.BadParameter(
            f"{value!r} is not a run id (see `contacts-pipeline runs`); put FILE before --resume",
            param_hint="--resume",
        )
    return int(value)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reconciliation file to write (default out/reconciliation.csv, or .xlsx for an .xlsx FILE); "
    "<report name>.summary.json goes next to it.",
)
@click.option(
    "--report-format",
    type=click.Choice(REPORT_FORMATS),
    help="csv or xlsx (a workbook with Summary and Legend sheets); default: --report's extension, else "
    "FILE's.",
)
@html_option
@prepare_options
@api_options
@import_options
@rate_limit_option
@click.option(
    "--only-failed", is_flag=True, help="FILE is a previous reconciliation file: re-run its failures."
)
@sandbox_options
@journal_option
@click.option(
    "--resume",
    is_flag=False,
    flag_value="last",
    metavar="[RUN_ID]",
    help="Go on with an interrupted run (default: the newest unfinished run of FILE), with its options.",
)
def import_(
    file: Path,
    report: Path | None,
    report_format: str | None,
    html: Path | None,
    prepare: PrepareOptions,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    options: ImportOptions,
    rate_limit: int,
    only_failed: bool,
    sandbox: bool,
    sandbox_state: Path | None,
    journal: Path,
    resume: str | None,
) -> None:
    """Import FILE into Genesys Cloud External Contacts: organizations first, then contacts.

    Every input row comes back in the reconciliation file with its outcome.

    \b
    Example:
      export GENESYS_REGION=mypurecloud.ie GENESYS_CLIENT_ID=... GENESYS_CLIENT_SECRET=...
      contacts-pipeline import customers.csv --external-source CRM --report out/reconciliation.csv

    Every answered batch is recorded in the journal: after a crash or Ctrl-C, `--resume` goes on
    where the run stopped, and a later import of the same records sends only those that changed.

    Exit codes: 0 every row succeeded or was unchanged; 1 some rows invalid or failed; 2 usage or
    configuration error; 3 the run could not complete (e.g. authentication failed, or another import
    holds the journal's lock); 130 interrupted by Ctrl-C (resumable with --resume).
    """
    run_to_resume = _resume(resume)
    report = choose_report_path(report, report_format, file)
    _check_paths(file, report, html, prepare, journal)
    if sandbox:
        options = replace(options, create_source=True)  # an embedded sandbox starts empty
    connection = target(
        sandbox,
        region=region,
        base_url=base_url,
        client_id=client_id,
        rate_limit=rate_limit,
        sandbox_state=sandbox_state,
    )
    result = _run(
        file,
        connection,
        options,
        prepare=prepare,
        report=report,
        only_failed=only_failed,
        journal=journal,
        resume=run_to_resume,
        memory=_memory(sandbox, sandbox_state),
    )
    if html is not None:
        _write_html(result, file, journal, html)
    _render(result, journal)


def _check_paths(file: Path, report: Path, html: Path | None, prepare: PrepareOptions, journal: Path) -> None:
    # The page must not land on what the run reads or writes; the rest is checked by import_file.
    check_outputs(
        {"--html": html},
        {"the input file": file, "--mapping": prepare.mapping, "the journal": journal, "--report": report,
         "the summary": summary_path(report)},
    )  # fmt: skip


def _run(
    file: Path,
    connection: AbstractContextManager[ClientSettings],
    options: ImportOptions,
    *,
    prepare: PrepareOptions,
    report: Path,
    only_failed: bool,
    journal: Path,
    resume: Resume,
    memory: dict[str, Any],
) -> ImportResult:
    """The import under the progress display; warnings it did not show yet are printed after it."""
    progress = Progress()
    with connection as settings, progress_display(progress, import_snapshot) as display:
        progress.warning_listeners.append(display.warn)  # before the push, not after it
        result = import_file(
            file,
            settings,
            options,
            prepare=prepare,
            report_path=report,
            only_failed=only_failed,
            progress=progress,
            journal=journal,
            resume=resume,
            given=explicit_options(),
            **memory,
        )
    for warning in not_yet_shown(result.warnings, progress.warnings):
        click.echo(f"Warning: {warning}", err=True)
    return result
