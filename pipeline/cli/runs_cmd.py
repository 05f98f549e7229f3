"""``contacts-pipeline runs``: the import runs a journal has recorded, and one run in detail."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from click.core import ParameterSource

from pipeline.cli.connection import api_options, memory, rate_limit_option, sandbox_options, target
from pipeline.cli.html_option import html_option, write_page
from pipeline.journal.images import Reverted, reverted, reverted_runs
from pipeline.journal.lock import lock_is_free
from pipeline.journal.run import resume_command
from pipeline.journal.store import DEFAULT_JOURNAL, Journal, RunInfo, RunState
from pipeline.report.run_report import journal_run_report
from pipeline.revert.job import RevertResult, revert_run

F = TypeVar("F", bound=Callable[..., object])
JOURNAL_ENV = "CONTACTS_PIPELINE_JOURNAL"


def journal_option(command: F) -> F:
    """``--journal PATH``, shared by ``import`` and ``runs``."""
    return click.option(
        "--journal",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_JOURNAL,
        envvar=JOURNAL_ENV,
        show_default=True,
        help="Run journal (SQLite): makes runs resumable and re-imports change-only.",
    )(command)


def explicit_options(ctx: click.Context | None = None) -> frozenset[str]:
    """The options the command line (or the environment) gave, by their library names, for a resume to
    compare with the run's own; options left at their defaults are the run's to decide."""
    ctx = ctx or click.get_current_context()
    given = {
        name
        for name in ctx.params
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    }
    # --report-format chooses the report's path as much as --report does.
    return frozenset("report_path" if name in ("report", "report_format") else name for name in given)


def _state(run: RunInfo, live: bool) -> str:
    # A run still marked running while nobody holds the lock was killed: say so before the next import does.
    if run.state is RunState.RUNNING and not live:
        return str(RunState.INTERRUPTED)
    return str(run.state)


def _records(run: RunInfo, kind: str) -> str:
    counts = run.records.get(kind, {})
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "-"


def _deletions(run: RunInfo) -> list[str]:
    """``--delete-missing``'s line: the deletions the run recorded (also counted in the record lines)."""
    deletions = (run.counts or {}).get("deletions")
    if not isinstance(deletions, dict):
        return []
    parts = [
        f"{n} {kind} {status}"
        for kind in ("contacts", "organizations")
        for status, n in sorted((deletions.get(kind) or {}).items())
    ]
    return [f"deletions    {', '.join(parts) or 'none'} ({deletions.get('file') or '-'})"]


def _reverted(undone: Reverted | None) -> list[str]:
    """``runs revert``'s line: when the run was undone and what the revert did."""
    if undone is None:
        return []
    done = "; ".join(
        f"{action} " + ", ".join(f"{n} {status}" for status, n in sorted(tally.items()))
        for action, tally in sorted(undone.counts.items())
        if action != "none" and isinstance(tally, dict)
    )
    return [f"reverted     {undone.reverted_at}" + (f" ({done})" if done else "")]


def _rows(run: RunInfo) -> str:
    rows = (run.counts or {}).get("rows")
    if not rows:
        return "-"
    return f"{rows['succeeded']}/{rows['total']} ok"


def _open(journal: Path) -> tuple[Journal, bool]:
    # The probe takes the lock for an instant and never waits; an import starting at that instant retries
    # its own acquire for a moment (lock.ACQUIRE_WAIT_S), so the probe cannot make it fail.
    live = not lock_is_free(journal) if journal.exists() else False
    return Journal(journal, create=False), live


@click.group("runs", invoke_without_command=True)
@journal_option
@click.pass_context
def runs(ctx: click.Context, journal: Path) -> None:
    """List the import runs recorded in the journal, newest first: id, start, state, input, counts.

    \b
    Example:
      contacts-pipeline runs
      contacts-pipeline runs show 3
    """
    ctx.obj = journal
    if ctx.invoked_subcommand is not None:
        return
    db, live = _open(journal)
    with db:
        recorded = db.runs()
        undone = reverted_runs(db)
    if not recorded:
        click.echo(f"No runs in {journal}.")
        return
    click.echo(f"{'run':>4}  {'started':<25}  {'state':<11}  {'rows':<12}  input / records")
    for run in recorded:
        mode = " (dry run)" if run.dry_run else ""
        if run.id in undone:
            mode += f" (reverted {undone[run.id].reverted_at})"
        click.echo(
            f"{run.id:>4}  {run.started_at:<25}  {_state(run, live):<11}  {_rows(run):<12}  "
            f"{run.input_path}{mode}"
        )
        click.echo(
            f"{'':>4}  organizations: {_records(run, 'organization')}; contacts: {_records(run, 'contact')}"
        )


@runs.command("show")
@click.argument("run_id", type=int)
@click.option(
    "--journal",
    "journal_override",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Run journal (default: the one given to `runs`).",
)
@html_option
@click.pass_obj
def show(journal: Path, run_id: int, journal_override: Path | None, html: Path | None) -> None:
    """Print one run's summary, its counts and where its reconciliation file is.

    \b
    Example:
      contacts-pipeline runs show 3
      contacts-pipeline runs show 3 --html out/run-3.html
    """
    journal = journal_override or journal
    db, live = _open(journal)
    with db:
        run = db.run(run_id)
        batches = db.batches(run_id) if run else 0
        undone = reverted(db, run_id)
        page = journal_run_report(db, run, html) if run is not None and html is not None else None
    if run is None:
        raise click.ClickException(f"no run {run_id} in {journal} (see `contacts-pipeline runs`)")
    state = _state(run, live)
    lines = [
        f"run          {run.id}{' (dry run)' if run.dry_run else ''}",
        f"state        {state}" + (f" ({run.error})" if run.error and state != "completed" else ""),
        f"input        {run.input_path}",
        f"sha256       {run.input_sha256}",
        f"started      {run.started_at}",
        f"ended        {run.ended_at or '-'}",
        f"sessions     {run.sessions}",
        f"batches      {batches} answered",
        f"organizations {_records(run, 'organization')}",
        f"contacts     {_records(run, 'contact')}",
        f"rows         {_rows(run)}",
        *_deletions(run),
        *_reverted(undone),
        f"options      {json.dumps(run.options.get('import', {}), sort_keys=True)}",
        f"report       {run.report_path or '(not written yet)'}",
    ]
    for line in lines:
        click.echo(line)
    if state != str(RunState.COMPLETED) and not run.dry_run and not live:
        if batches:
            click.echo(f"resume with  {resume_command(run.input_path, run.id, journal)}")
        else:
            # Nothing was answered: a resume would be a new import under an old number.
            click.echo("resume       nothing was sent; run the import again (without --resume)")
    if page is not None and html is not None:
        write_page(page, html)


def _describe(result: RevertResult) -> list[str]:
    """One line per action with its counts, in the order the revert acts."""
    tally = result.counts()
    labels = {
        "delete": "delete (created by the run)",
        "restore": "restore from the before-image",
        "skip": "skip",
        "none": "nothing to do",
    }
    lines = []
    for action, label in labels.items():
        if action in tally:
            parts = ", ".join(f"{n} {status}" for status, n in sorted(tally[action].items()))
            lines.append(f"  {label:<31} {parts}")
    return lines


@runs.command("revert")
@click.argument("run_id", type=int)
@click.option("--yes", is_flag=True, help="Act: without it the revert only says what it would do.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV with one row per record: kind, key, genesys_id, action, status, message "
    "(default <journal dir>/revert-RUN_ID.csv).",
)
@api_options
@rate_limit_option
@sandbox_options
@click.option(
    "--journal",
    "journal_override",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Run journal (default: the one given to `runs`).",
)
@click.pass_obj
def revert(
    journal: Path,
    run_id: int,
    yes: bool,
    out: Path | None,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    rate_limit: int,
    sandbox: bool,
    sandbox_state: Path | None,
    journal_override: Path | None,
) -> None:
    """Undo import run RUN_ID: delete the records it created, restore those it updated.

    Records it updated are restored from the before-images that `import --save-before` saved; without
    them they are listed as "cannot restore". An organization that contacts this revert does not delete
    still link to is skipped. Connect to the run's own target (the same --region / --base-url /
    --sandbox-state): another target is refused.

    Without --yes nothing is changed: the records are read (one request per 10), and what would be done
    is printed and written to --out. With --yes the revert acts and is recorded in the journal;
    reverting the same run again is a no-op.

    \b
    Example:
      contacts-pipeline runs revert 7              # what it would do
      contacts-pipeline runs revert 7 --yes        # do it

    Exit codes: 0 done (or nothing to do); 1 some records could not be reverted; 2 usage error, or
    another target than the run's; 3 the target could not be reached.
    """
    journal = journal_override or journal
    connection = target(
        sandbox,
        region=region,
        base_url=base_url,
        client_id=client_id,
        rate_limit=rate_limit,
        sandbox_state=sandbox_state,
    )
    with connection as settings:
        result = revert_run(
            journal, run_id, settings, target=memory(sandbox, sandbox_state)["target"], act=yes, out=out
        )
    if result.already is not None:
        click.echo(f"Run {run_id} was already reverted ({result.already.reverted_at}): nothing to do.")
        return
    click.echo(f"Run {run_id}: {len(result.steps)} records" + ("" if yes else " (dry run: nothing changed)"))
    for line in _describe(result):
        click.echo(line)
    click.echo(f"Details in {result.out}.")
    if not yes:
        click.echo(
            f"To revert: contacts-pipeline runs revert {run_id} --yes (with the same connection options)"
        )
    elif result.failed:
        click.echo(f"{result.failed} records could not be reverted; run the revert again to retry them.")
        raise click.exceptions.Exit(1)
