"""The summary table printed at the end of an import."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from pipeline.outcomes import Status
from pipeline.report.summary import ImportSummary

_ORDER = [str(s) for s in Status]


def render_import_summary(summary: ImportSummary, console: Console | None = None) -> None:
    """Rows per status for organizations and contacts, then the run's figures."""
    console = console or Console(file=sys.stdout, soft_wrap=True)
    title = "Import summary (dry run: nothing was changed)" if summary.dry_run else "Import summary"
    table = Table(title=title, title_justify="left")
    table.add_column("status")
    table.add_column("organization rows", justify="right")
    table.add_column("contact rows", justify="right")
    table.add_column("organizations", justify="right")
    table.add_column("contacts", justify="right")
    for status in _ORDER:
        cells = [
            summary.organization_rows.get(status, 0),
            summary.contact_rows.get(status, 0),
            summary.organizations.get(status, 0),
            summary.contacts.get(status, 0),
        ]
        if any(cells):
            table.add_row(status, *(str(c) for c in cells))
    console.print(table)
    console.print(
        f"rows {summary.rows}: {summary.rows_succeeded} succeeded, {summary.rows_not_succeeded} not; "
        f"{summary.duration_s:.1f} s, {summary.requests_sent} requests, {summary.throttled} throttled (429), "
        f"{summary.retries} request retries, {summary.entity_retries} entity retries"
        + (f", {summary.match_lookups} match lookups" if summary.match_lookups else "")
    )
    if (deleted := deletions_line(summary)) is not None:
        console.print(deleted)
    if summary.report_path:
        console.print(f"Reconciliation file: {summary.report_path}")


_DELETE_WORDS = {"would_delete": "would delete"}


def deletions_line(summary: ImportSummary) -> str | None:
    """``--delete-missing``'s outcome in one line, e.g. ``deleted: 3 contacts, 1 organizations``."""
    if summary.deletions is None:
        return None
    parts = []
    for kind in ("contacts", "organizations"):
        tally = summary.deletions.get(kind, {})
        parts += [f"{_DELETE_WORDS.get(s, s)} {n} {kind}" for s, n in sorted(tally.items())]
    what = "; ".join(parts) or "nothing to delete"
    where = f" (records in {summary.deleted_path})" if parts and summary.deleted_path else ""
    return f"--delete-missing: {what}{where}"
