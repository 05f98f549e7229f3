"""The files ``plan`` writes: the diff CSV (formula-safe) and a self-contained HTML page.

The page loads nothing: its CSS and the few lines of JavaScript that sort a table by a clicked column
are inline, and every value is HTML-escaped (cells come from a spreadsheet and from the API; either may
hold markup).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from pipeline.csvsafe import write_csv
from pipeline.files import write_text_atomic
from pipeline.importing.preview import DIFF_COLUMNS, DiffRow, PlanResult


def diff_frame(rows: Sequence[DiffRow]) -> pl.DataFrame:
    return pl.DataFrame(
        {name: [getattr(r, name) for r in rows] for name in DIFF_COLUMNS},
        schema=dict.fromkeys(DIFF_COLUMNS, pl.String),
    )


def write_diff(rows: Sequence[DiffRow], path: str | Path) -> None:
    write_csv(diff_frame(rows), path)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
td { white-space: pre-wrap; word-break: break-word; }
tr.create td.action { color: #1a7f37; } tr.update td.action { color: #9a6700; }
tr.clear td.action, tr.delete td.action { color: #cf222e; } tr.unchanged { color: #777; }
"""

# Sorts the clicked table by the clicked column: numbers numerically, the rest as text; a second click
# reverses. No network access of any kind.
_SCRIPT = """
document.querySelectorAll("th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
    var dir = th.dataset.dir === "asc" ? -1 : 1;
    table.querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].textContent, y = b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      if (!isNaN(nx) && !isNaN(ny) && nx !== ny) { return (nx - ny) * dir; }
      return x.localeCompare(y) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _cell(value: str | None, css: str = "") -> str:
    attr = f' class="{css}"' if css else ""
    return f"<td{attr}>{html.escape(value or '', quote=True)}</td>"


def _table(rows: Sequence[DiffRow]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in DIFF_COLUMNS)
    body = []
    for r in rows:
        cells = [_cell(getattr(r, name), name if name == "action" else "") for name in DIFF_COLUMNS]
        body.append(f'<tr class="{html.escape(r.action)}">{"".join(cells)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def summary_lines(result: PlanResult) -> list[str]:
    """The counts, as ``plan`` prints them."""
    records = result.records
    ambiguous = [f"Contacts not sent (ambiguous_match): {result.ambiguous}"] if result.ambiguous else []
    return [
        f"Would create: {records.get('create', 0)} records",
        f"Would update: {records.get('update', 0)} records ({result.fields_updated} fields)",
        f"Unchanged: {records.get('unchanged', 0)} records",
        f"Would clear: {result.fields_cleared} fields",
        f"Would delete: {records.get('delete', 0)} records",
        f"Rows not planned (invalid or in conflict): {result.not_planned}",
        f"Contacts skipped (Account ID found nowhere): {result.skipped}",
        *ambiguous,
        f"Live reads: {result.reads.describe()}",
    ]


def render_html(result: PlanResult, title: str) -> str:
    accounts: dict[str, list[DiffRow]] = {}
    for row in result.rows:
        accounts.setdefault(row.account or "", []).append(row)
    sections = []
    for account in sorted(accounts):
        name = f"Account {account}" if account else "Contacts without an account"
        sections.append(f"<h2>{html.escape(name)}</h2>{_table(accounts[account])}")
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(result))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><ul>{summary}</ul>{''.join(sections)}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(result: PlanResult, path: str | Path, title: str) -> None:
    write_text_atomic(path, render_html(result, title))
