"""``contacts-pipeline validate``: check a file offline and optionally write the reconciliation report."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.html_option import html_option, write_page
from pipeline.cli.prepare_options import prepare_options
from pipeline.files import check_outputs
from pipeline.prepare.stage import PrepareOptions, ignored_columns_warning, listed_columns
from pipeline.report.reconcile import REPORT_FORMATS, choose_report_path
from pipeline.report.run_report import validation_run_report
from pipeline.report.validation import ValidationReport, validate_file

# Exit code when the file was read and checked but some rows are not valid (0 = all valid; 2 = the file
# could not be used at all, raised as an InputError and mapped by the command group).
EXIT_SOME_INVALID = 1


def render_summary(result: ValidationReport) -> list[str]:
    """The summary lines ``validate`` prints, ignored columns and warnings included."""
    s = result.summary
    raw = result.source
    delimiter = {"\t": "tab"}.get(raw.delimiter, raw.delimiter)
    how = f"sheet {raw.sheet!r}" if raw.sheet is not None else f"{raw.encoding}, delimiter {delimiter!r}"
    lines = [
        f"Read {s.rows_read} rows from {raw.path} ({how})",
        f"  valid contacts       {s.valid_contacts:>8}",
        f"  valid organizations  {s.valid_organizations:>8}",
        f"  invalid rows         {s.invalid_rows:>8}",
        f"  conflict rows        {s.conflict_rows:>8}",
        f"  warnings             {s.warnings:>8}",
    ]
    if result.columns.ignored:
        lines.append("Ignored columns (not mapped to any field): " + listed_columns(result.columns.ignored))
    # The ignored-columns warning already has its own line above; show it once.
    listed = ignored_columns_warning(result.columns)
    lines.extend(f"Warning: {w}" for w in result.warnings if w != listed)
    return lines


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@prepare_options
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the reconciliation file (every input row plus its outcome) here.",
)
@click.option(
    "--report-format",
    type=click.Choice(REPORT_FORMATS),
    help="csv or xlsx (a workbook with Summary and Legend sheets); default: --report's extension. Without "
    "--report, the report goes to out/reconciliation.<format>.",
)
@html_option
def validate(
    file: Path, prepare: PrepareOptions, report: Path | None, report_format: str | None, html: Path | None
) -> None:
    """Check FILE without calling any API and print a summary.

    Exit status: 0 when every row is valid, 1 when some rows are invalid or in conflict, 2 when the file
    (or the mapping file) cannot be used at all.

    \b
    Example:
      contacts-pipeline validate samples/contacts.csv --report out/validation.csv --html out/validation.html
    """
    if report is not None or report_format is not None:
        report = choose_report_path(report, report_format, file)
    check_outputs(
        {"--report": report, "--html": html}, {"the input file": file, "--mapping": prepare.mapping}
    )
    result = validate_file(file, prepare)
    for line in render_summary(result):
        click.echo(line)
    if report is not None:
        written = result.write_report(report)
        click.echo(f"Report written to {written}")
    if html is not None:
        # The page needs the outcome columns only: the narrow frame, not the whole report in memory.
        write_page(validation_run_report(file, result.outcomes, html, report), html)
    if not result.summary.all_valid:
        raise click.exceptions.Exit(EXIT_SOME_INVALID)
