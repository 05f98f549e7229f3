"""``contacts-pipeline merge FILE``: merge the duplicate groups a person kept, dry unless ``--yes``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from pipeline import asyncrun
from pipeline.cli.connection import api_options, rate_limit_option, sandbox_options, target
from pipeline.csvsafe import write_csv
from pipeline.duplicates.merging import STATUSES, MergeOutcomes, merge_planned, reconciliation
from pipeline.duplicates.plan import MergePlan, read_plan
from pipeline.files import check_outputs
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import ClientSettings
from pipeline.masking import mask_in_text


def default_report(file: Path) -> Path:
    return file.with_name(f"{file.stem}.merge-report.csv")


@click.command("merge")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reconciliation file to write (default: FILE's name with .merge-report.csv).",
)
@click.option("--yes", is_flag=True, help="Merge for real; without it nothing is written to Genesys.")
@api_options
@rate_limit_option
@sandbox_options
def merge(
    file: Path,
    report: Path | None,
    yes: bool,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    rate_limit: int,
    sandbox: bool,
    sandbox_state: Path | None,
) -> None:
    """Merge the groups kept in FILE, the duplicates file after review.

    A group is merged when two or more of its rows say keep=yes and exactly one of those says
    survivor=yes; the merged contact keeps the survivor's names, organization and ExternalIds, and every
    email and phone of the group. Without --yes this is a dry run: the contacts are read, nothing is
    written. Groups Genesys refuses to merge are reported as refused, never forced.

    \b
    Example:
      contacts-pipeline merge out/duplicates.csv          # what would be merged
      contacts-pipeline merge out/duplicates.csv --yes    # merge

    Exit codes: 0 every kept group merged (or would be); 1 some groups failed, were refused or lost
    ExternalIds; 2 usage error or a file that cannot be used (nothing sent); 3 the run could not complete.
    """
    report = report or default_report(file)
    check_outputs({"--report": report}, {"FILE": file, "--sandbox-state": sandbox_state})
    plan = read_plan(file)
    connection = target(
        sandbox,
        region=region,
        base_url=base_url,
        client_id=client_id,
        rate_limit=rate_limit,
        sandbox_state=sandbox_state,
    )
    with connection as settings:
        outcomes = _run(settings, plan, dry_run=not yes)
    rows = reconciliation(plan, outcomes)
    write_csv(rows, report)
    _render(plan, outcomes, dry_run=not yes)
    click.echo(f"Reconciliation file: {report}")
    if outcomes.stopped is not None:
        raise outcomes.stopped
    if any(o.problem for o in outcomes.by_group.values()):
        raise click.exceptions.Exit(1)


def _run(settings: ClientSettings, plan: MergePlan, *, dry_run: bool) -> MergeOutcomes:
    async def run() -> MergeOutcomes:
        async with GenesysClient(settings) as client:
            return await merge_planned(client, plan, dry_run=dry_run)

    return asyncrun.run(run())


def _render(plan: MergePlan, outcomes: MergeOutcomes, *, dry_run: bool) -> None:
    for group in plan.groups:
        outcome = outcomes.by_group[group.group]
        what = f"group {group.group}: {outcome.status}"
        if outcome.status in ("would_merge", "merged"):
            what += f" {len(group.contact_ids)} contacts, survivor {group.survivor_id}"
        if outcome.merged_id:
            what += f" -> {outcome.merged_id}"
        if outcome.error_code:
            # Genesys's messages can quote the emails and phones of the contacts.
            what += f" ({outcome.error_code}: {mask_in_text(outcome.error_message)})"
        click.echo(what)
    counts = Counter(o.status for o in outcomes.by_group.values())
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    click.echo(f"{'Dry run, nothing written: ' if dry_run else ''}groups: {summary or 'none'}")
    if dry_run and counts["would_merge"]:
        click.echo("Run again with --yes to merge.")
