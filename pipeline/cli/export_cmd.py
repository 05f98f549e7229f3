"""``contacts-pipeline export``: every record back to a file in the import layout, with a manifest."""

from __future__ import annotations

import os
from pathlib import Path

import click

from pipeline.cli.connection import api_options, rate_limit_option, sandbox_options, target
from pipeline.cli.html_option import html_option, write_page
from pipeline.cli.progress import export_snapshot, progress_display
from pipeline.cli.runs_cmd import JOURNAL_ENV
from pipeline.destination import DEFAULT_EXTERNAL_SOURCE
from pipeline.exporting.job import FORMATS, ExportOptions, ExportProgress, ExportResult, export
from pipeline.exporting.layout import COLUMNS_ALL, EXPORT_KINDS
from pipeline.exporting.state import export_outputs
from pipeline.files import check_outputs
from pipeline.journal.store import DEFAULT_JOURNAL
from pipeline.report.run_report import export_run_report

DEFAULT_OUT_STEM = Path("out/export")
_SUFFIXES = tuple(f".{f}" for f in FORMATS)


@click.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default out/export.<format>); <out>.manifest.json goes next to it.",
)
@click.option(
    "--kind",
    type=click.Choice(EXPORT_KINDS),
    default="both",
    show_default=True,
    help="both: one row per contact with its organization's columns, then organizations without contacts.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    help="csv, parquet or xlsx (a workbook of text cells, with Summary and Legend sheets); default: "
    "--out's extension, else csv.",
)
@click.option("--division", "division_id", help="Only records of this division (id).")
@click.option(
    "--external-source",
    default=DEFAULT_EXTERNAL_SOURCE,
    show_default=True,
    help="External source (exact name) whose ExternalIds fill Contact ID and Account ID.",
)
@click.option(
    "--columns",
    default=COLUMNS_ALL,
    show_default=True,
    help="all: field columns and every custom field of the schemas; spec: field columns only; or a "
    "comma-separated list of headers (the ID columns are always written).",
)
@click.option("--excel", is_flag=True, help="Deprecated: the same as --format xlsx.")
@click.option("--resume", is_flag=True, help="Continue an interrupted export of the same file.")
@html_option
@api_options
@rate_limit_option
@sandbox_options
def export_(
    out: Path | None,
    kind: str,
    format_: str | None,
    division_id: str | None,
    external_source: str,
    columns: str,
    excel: bool,
    resume: bool,
    html: Path | None,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    rate_limit: int,
    sandbox: bool,
    sandbox_state: Path | None,
) -> None:
    """Export contacts and organizations from Genesys Cloud in the layout import reads.

    Cells a spreadsheet would run as formulas are written with a leading ' (import removes it again).
    Records come from the cursor scan endpoints, page by page, so memory stays flat however many there
    are; an interrupted export continues with --resume.

    \b
    Example:
      export GENESYS_REGION=mypurecloud.ie GENESYS_CLIENT_ID=... GENESYS_CLIENT_SECRET=...
      contacts-pipeline export --out out/contacts.xlsx --external-source CRM

    Exit codes: 0 exported; 2 usage or configuration error; 3 the export could not complete (run it
    again with --resume).
    """
    format_ = _format(format_, excel, out)
    out = out or DEFAULT_OUT_STEM.with_suffix(f".{format_}")
    # The export's own files must not be what the run reads (the sandbox state, the import journal).
    journal = os.environ.get(JOURNAL_ENV) or DEFAULT_JOURNAL
    check_outputs(
        {**export_outputs(out), "--html": html}, {"--sandbox-state": sandbox_state, "the journal": journal}
    )
    options = ExportOptions(
        kind=kind,  # type: ignore[arg-type]  # click.Choice checked it
        format=format_,  # type: ignore[arg-type]
        division_id=division_id,
        external_source=external_source,
        columns=columns,
        resume=resume,
    )
    progress = ExportProgress()
    connection = target(
        sandbox,
        region=region,
        base_url=base_url,
        client_id=client_id,
        rate_limit=rate_limit,
        sandbox_state=sandbox_state,
    )
    with connection as settings, progress_display(progress, export_snapshot):
        result = export(out, settings, options, progress=progress)
    _render(result, external_source)
    if html is not None:
        write_page(export_run_report(result.manifest, result.path, result.manifest_path, html), html)


def _format(chosen: str | None, excel: bool, out: Path | None) -> str:
    """--format, else --excel (its old CSV-with-BOM meaning gave way to real workbooks), else --out's
    extension, else csv."""
    if excel:
        click.echo("Warning: --excel is deprecated; it now writes .xlsx: use --format xlsx", err=True)
        if chosen not in (None, "xlsx"):
            raise click.UsageError(f"--excel means --format xlsx, not --format {chosen}")
        chosen = "xlsx"
    if chosen is not None:
        if out is not None and out.suffix.lower() in _SUFFIXES and out.suffix.lower() != f".{chosen}":
            raise click.UsageError(f"--out {out} does not end in .{chosen}, the format asked for")
        return chosen
    suffix = out.suffix.lower() if out is not None else ""
    return suffix[1:] if suffix in _SUFFIXES else "csv"


def _render(result: ExportResult, external_source: str) -> None:
    """The warnings, what was written, and a note about records whose ID cells are empty."""
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    m = result.manifest
    click.echo(
        f"Exported {m['rows']} rows ({m['records']['contacts']} contacts, "
        f"{m['records']['organizations']} organizations) to {result.path}"
    )
    missing = m["counts"]["contacts_without_external_id"] + m["counts"]["organizations_without_external_id"]
    if missing:
        click.echo(
            f"Note: {missing} records have no ExternalId from {external_source!r}: their ID cells are empty, "
            "so those rows cannot be imported again as they are.",
            err=True,
        )
    click.echo(f"Manifest: {result.manifest_path}")
