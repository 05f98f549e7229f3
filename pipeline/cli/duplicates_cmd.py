"""``contacts-pipeline duplicates``: candidate groups of duplicate contacts, for a person to review."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.connection import api_options, rate_limit_option, sandbox_options, target
from pipeline.destination import DEFAULT_EXTERNAL_SOURCE
from pipeline.duplicates.page import write_page
from pipeline.duplicates.scan import run_duplicates, write_duplicates
from pipeline.files import check_outputs
from pipeline.prepare.normalize import check_region

DEFAULT_OUT = Path("out/duplicates.csv")


@click.command("duplicates")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Duplicates file to write: one row per contact, grouped, with the keep column to edit.",
)
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the groups as a self-contained HTML page here.",
)
@click.option(
    "--external-source",
    default=DEFAULT_EXTERNAL_SOURCE,
    show_default=True,
    help="External source (exact name) of the import: contacts with its ExternalIds are suggested survivors.",
)
@click.option("--division", "division_id", help="Only contacts of this division (id).")
@click.option(
    "--default-region",
    default="US",
    show_default=True,
    metavar="CC",
    help="ISO country code for stored phone numbers written without a country code.",
)
@api_options
@rate_limit_option
@sandbox_options
def duplicates(
    out: Path,
    html: Path | None,
    external_source: str,
    division_id: str | None,
    default_region: str,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    rate_limit: int,
    sandbox: bool,
    sandbox_state: Path | None,
) -> None:
    """Find contacts that share an email or a phone and write them as groups to review.

    Every contact is read with the cursor scan (nothing is changed in Genesys). Contacts sharing a
    normalized email or phone form a group; each record is scored against the group's suggested survivor
    (email 40, phone 25, last name 15, first name 10, organization 10) and keep=yes is suggested from 50.
    Edit the keep column, then run `contacts-pipeline merge` on the file.

    \b
    Example:
      contacts-pipeline duplicates --out out/duplicates.csv --html out/duplicates.html

    Exit codes: 0 written (with or without groups); 2 usage or configuration error; 3 the scan could not
    complete.
    """
    region_code = check_region(default_region)
    check_outputs({"--out": out, "--html": html}, {"--sandbox-state": sandbox_state})
    connection = target(
        sandbox,
        region=region,
        base_url=base_url,
        client_id=client_id,
        rate_limit=rate_limit,
        sandbox_state=sandbox_state,
    )
    with connection as settings:
        result = run_duplicates(
            settings, external_source=external_source, default_region=region_code, division_id=division_id
        )
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    rows = write_duplicates(result, out)
    click.echo(
        f"Scanned {result.contacts_scanned} contacts: {len(result.groups)} groups of possible duplicates "
        f"({rows.height} contacts), written to {out}"
    )
    if html is not None:
        write_page(rows, html, contacts_scanned=result.contacts_scanned, csv_name=out.name)
        click.echo(f"HTML page written to {html}")
