"""``contacts-pipeline adopt``: claim this source's IDs on records that exist in Genesys without them."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.connection import api_options, rate_limit_option, sandbox_options, target
from pipeline.cli.prepare_options import prepare_options
from pipeline.destination import DEFAULT_EXTERNAL_SOURCE
from pipeline.files import check_outputs
from pipeline.importing.adopt_job import AdoptRequest, adopt_file
from pipeline.prepare.stage import PrepareOptions

DEFAULT_ADOPT_REPORT = Path("out/adoption.csv")


@click.command("adopt")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_ADOPT_REPORT,
    show_default=True,
    help="Reconciliation file to write (every row with its adopt_status).",
)
@prepare_options
@api_options
@click.option(
    "--external-source",
    default=DEFAULT_EXTERNAL_SOURCE,
    show_default=True,
    help="External source (exact name) whose Contact and Account IDs are claimed.",
)
@click.option("--division", "division_id", help="Division to find and adopt records in.")
@click.option(
    "--release-prefix",
    "release_prefixes",
    multiple=True,
    help="Release the adopted record's identifiers whose value starts with this (repeatable).",
)
@click.option("--yes", "apply", is_flag=True, help="Adopt; without it nothing is changed (a dry run).")
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Records at once."
)
@rate_limit_option
@sandbox_options
def adopt(
    file: Path,
    report: Path,
    prepare: PrepareOptions,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    external_source: str,
    division_id: str | None,
    release_prefixes: tuple[str, ...],
    apply: bool,
    concurrency: int,
    rate_limit: int,
    sandbox: bool,
    sandbox_state: Path | None,
) -> None:
    """Adopt the records of FILE that exist in Genesys without this source's IDs.

    A row's genesys_contact_id / genesys_organization_id column (as export writes it) names the record;
    without it a contact is found by its emails and phones under the strict rule (a second factor must
    agree) and an organization by its exact name in the division. Adopting claims the Contact or Account
    ID on the record, so the next import updates it instead of creating a duplicate.

    \b
    Example:
      contacts-pipeline adopt customers.csv --external-source CRM --release-prefix PHONE:
      contacts-pipeline adopt customers.csv --external-source CRM --release-prefix PHONE: --yes

    Exit codes: 0 every row adopted, already ours, without a match, or (dry run) would be adopted;
    1 some rows ambiguous, invalid or failed; 2 usage or input error; 3 the run could not complete.
    """
    check_outputs({}, {"the input file": file, "--mapping": prepare.mapping, "--report": report})
    request = AdoptRequest(
        external_source, division_id, tuple(p for p in release_prefixes if p), apply, concurrency
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
        result = adopt_file(file, settings, request, prepare=prepare, report_path=report)
    title = "Adopt" if apply else "Adopt (dry run: nothing was changed; --yes to adopt)"
    click.echo(title)
    for status, rows in sorted(result.counts.items()):
        click.echo(f"  {status:<16} {rows:>8} rows")
    click.echo(f"Reconciliation file: {report}")
    if not result.all_settled:
        raise click.exceptions.Exit(1)
