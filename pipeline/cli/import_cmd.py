"""``contacts-pipeline import``: push a file to Genesys Cloud and write the reconciliation file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from pipeline.cli.progress import progress_display
from pipeline.cli.summary import render_import_summary
from pipeline.genesys.settings import DEFAULT_RATE_LIMIT_PER_MINUTE, ClientSettings, settings_from
from pipeline.importer import DEFAULT_EXTERNAL_SOURCE, ImportOptions, Progress, import_file

DEFAULT_REPORT = Path("out/reconciliation.csv")
MATCH_CHOICES = ("email", "phone")


def _match(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    kinds = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    unknown = [k for k in kinds if k not in MATCH_CHOICES]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: use email and/or phone", param_hint="--match")
    return kinds


@contextmanager
def _target(
    sandbox: bool,
    *,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    rate_limit: int,
    sandbox_state: Path | None,
) -> Iterator[ClientSettings]:
    """Client settings for the real API, or for an embedded sandbox started for this run."""
    if not sandbox:
        yield settings_from(
            region=region, base_url=base_url, client_id=client_id, client_secret=None, rate_limit=rate_limit
        )
        return
    from pipeline.sandbox import SandboxConfig, run_sandbox

    with run_sandbox(SandboxConfig(rate_limit=rate_limit, state_path=sandbox_state)) as sb:
        click.echo(f"Embedded sandbox at {sb.base_url}", err=True)
        yield settings_from(
            region=None,
            base_url=sb.base_url,
            client_id=sb.client_id,
            client_secret=sb.client_secret,
            rate_limit=rate_limit,
        )


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_REPORT,
    show_default=True,
    help="Reconciliation file to write; SUMMARY.json goes next to it.",
)
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), help="Column mapping file.")
@click.option("--default-region", default="US", show_default=True, help="Region for phones without +code.")
@click.option(
    "--account-conflicts",
    type=click.Choice(["error", "first"]),
    default="error",
    show_default=True,
    help="Rows of one Account ID that disagree: report a conflict, or take the first row's values.",
)
@click.option("--region", envvar="GENESYS_REGION", help="Genesys Cloud domain, e.g. mypurecloud.ie.")
@click.option("--base-url", help="API base URL instead of a region (https, or http on loopback).")
@click.option(
    "--client-id", envvar="GENESYS_CLIENT_ID", help="OAuth client id (secret: GENESYS_CLIENT_SECRET)."
)
@click.option(
    "--external-source",
    default=DEFAULT_EXTERNAL_SOURCE,
    show_default=True,
    help="External source (exact name) that owns the Contact and Account IDs.",
)
@click.option("--create-source", is_flag=True, help="Create the external source if it does not exist.")
@click.option("--division", "division_id", help="Division id for every record.")
@click.option("--contact-schema", help="Contact custom-field schema (name or id).")
@click.option("--organization-schema", help="Organization custom-field schema (name or id).")
@click.option("--match", "match", help="Also match contacts by email and/or phone: --match email,phone.")
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    default=DEFAULT_RATE_LIMIT_PER_MINUTE,
    show_default=True,
    help="Requests per minute the client keeps under (0 = no client limit).",
)
@click.option(
    "--concurrency", type=click.IntRange(min=1), help="Bulk requests in flight (default from rate)."
)
@click.option("--dry-run", is_flag=True, help="Validate and ask the API with dryRun=true; change nothing.")
@click.option(
    "--only-failed", is_flag=True, help="FILE is a previous reconciliation file: re-run its failures."
)
@click.option("--sandbox", is_flag=True, help="Run against an embedded local sandbox (demo, rehearsal).")
@click.option(
    "--sandbox-state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --sandbox: SQLite file that keeps the sandbox's records between runs.",
)
def import_(
    file: Path,
    report: Path,
    mapping: Path | None,
    default_region: str,
    account_conflicts: str,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    external_source: str,
    create_source: bool,
    division_id: str | None,
    contact_schema: str | None,
    organization_schema: str | None,
    match: str | None,
    rate_limit: int,
    concurrency: int | None,
    dry_run: bool,
    only_failed: bool,
    sandbox: bool,
    sandbox_state: Path | None,
) -> None:
    """Import FILE into Genesys Cloud External Contacts: organizations first, then contacts.

    Every input row comes back in the reconciliation file with its outcome.

    \b
    Example:
      export GENESYS_REGION=mypurecloud.ie GENESYS_CLIENT_ID=... GENESYS_CLIENT_SECRET=...
      contacts-pipeline import customers.csv --external-source CRM --report out/reconciliation.csv

    Exit codes: 0 every row succeeded or was unchanged; 1 some rows invalid or failed; 2 usage or
    configuration error; 3 the run could not complete (e.g. authentication failed).
    """
    options = ImportOptions(
        external_source=external_source,
        create_source=create_source or sandbox,
        division_id=division_id,
        contact_schema=contact_schema,
        organization_schema=organization_schema,
        match=_match(match),
        concurrency=concurrency,
        dry_run=dry_run,
    )
    progress = Progress()
    if sandbox_state is not None and not sandbox:
        raise click.UsageError("--sandbox-state goes with --sandbox")
    target = _target(
        sandbox,
        region=region,
        base_url=base_url,
        client_id=client_id,
        rate_limit=rate_limit,
        sandbox_state=sandbox_state,
    )
    with target as settings, progress_display(progress):
        result = import_file(
            file,
            settings,
            options,
            mapping=mapping,
            default_region=default_region,
            account_conflicts=account_conflicts,
            report_path=report,
            only_failed=only_failed,
            progress=progress,
        )
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    render_import_summary(result.summary)
    if not result.all_succeeded:
        raise click.exceptions.Exit(1)
