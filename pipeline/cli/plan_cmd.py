"""``contacts-pipeline plan``: what an import of a file would change, read from the live target."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.connection import api_options, rate_limit_option, sandbox_options, target
from pipeline.cli.import_cmd import _memory, target_options
from pipeline.cli.prepare_options import prepare_options
from pipeline.cli.runs_cmd import journal_option
from pipeline.files import check_outputs
from pipeline.importing.job import ImportOptions
from pipeline.importing.plan_output import summary_lines, write_diff, write_html
from pipeline.importing.preview import PlanResult, plan_file
from pipeline.prepare.stage import PrepareOptions

DEFAULT_OUT = Path("out/plan.csv")


@click.command("plan")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Diff CSV to write: one row per changed field, one per unchanged record.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the diff as a self-contained HTML page, grouped by account.",
)
@prepare_options
@api_options
@target_options
@rate_limit_option
@sandbox_options
@journal_option
def plan(
    file: Path,
    out: Path,
    html_path: Path | None,
    prepare: PrepareOptions,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    options: ImportOptions,
    rate_limit: int,
    sandbox: bool,
    sandbox_state: Path | None,
    journal: Path,
) -> None:
    """Show what `import FILE` would change in Genesys Cloud, without changing anything.

    FILE is read, validated and grouped as import does; the records it would touch are read from the
    target (by id in bulk for records the journal knows, else by a scan or by ExternalId lookups) and
    compared with what import would send. Empty cells change nothing, as in import, unless --blanks
    clear: then they are listed as clears. With --match, a contact its ExternalId does not find is
    looked up by email/phone and compared with the record import would update (--match-policy decides,
    as in import); one import would report ambiguous_match is counted and named, not diffed. With
    --delete-missing, the records import --delete-missing would delete are listed too (the guard is
    checked and reported, not enforced).

    \b
    Example:
      contacts-pipeline plan customers.csv --external-source CRM --out out/plan.csv --html out/plan.html

    Exit codes: 0 the plan was written; 2 usage, input or configuration error; 3 the target could not be
    read (e.g. authentication failed); 130 interrupted by Ctrl-C.
    """
    check_outputs(
        {"--out": out, "--html": html_path},
        {"the input file": file, "--mapping": prepare.mapping, "the journal": journal},
    )
    connection = target(
        sandbox,
        region=region,
        base_url=base_url,
        client_id=client_id,
        rate_limit=rate_limit,
        sandbox_state=sandbox_state,
    )
    with connection as settings:
        result = plan_file(
            file, settings, options, prepare=prepare, journal=journal, **_memory(sandbox, sandbox_state)
        )
    _write_and_show(result, file, out, html_path)


def _write_and_show(result: PlanResult, file: Path, out: Path, html_path: Path | None) -> None:
    """Warnings first, then the diff files, then the counts and where the diff went."""
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    write_diff(result.rows, out)
    if html_path is not None:
        write_html(result, html_path, f"Plan for {file.name}")
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"Diff written to {out}" + (f" and {html_path}" if html_path else "") + ".")
