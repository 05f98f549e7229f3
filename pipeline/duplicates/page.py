"""The duplicates file as one self-contained HTML page, for reviewing the groups in a browser.

Inline CSS only, nothing fetched from the network; every value is escaped (names can hold markup). The page
shows the same personal data as the CSV it accompanies: it is a working document for the person deciding
what to merge, not a log.
"""

from __future__ import annotations

import html
from pathlib import Path

import polars as pl

from pipeline.duplicates.grouping import KEEP_THRESHOLD, WEIGHTS
from pipeline.files import write_text_atomic

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:80em;
color:#1d2330;padding:0 1em}h1{font-size:1.5em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left;vertical-align:top;
border-bottom:1px solid #eef}th{background:#f4f5f9}tr.survivor td{font-weight:600}tr.no td{color:#889}
.muted{color:#667}
"""
_SHOWN = ("keep", "survivor", "score", "factors", "genesys_contact_id", "first_name", "last_name", "emails",
          "phones", "organization_id", "external_ids", "type", "modify_date", "note")  # fmt: skip


def build_page(rows: pl.DataFrame, *, contacts_scanned: int, csv_name: str) -> str:
    """The page for the duplicates file's ``rows`` (all text columns, as written)."""
    weights = ", ".join(f"{name.replace('_', ' ')} {weight}" for name, weight in WEIGHTS.items())
    groups = rows.partition_by("group", maintain_order=True) if rows.height else []
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Possible duplicate contacts</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Possible duplicate contacts</h1>",
        f"<p>{contacts_scanned} contacts scanned; {len(groups)} groups of contacts sharing an email or a "
        f"phone, {rows.height} contacts in all.</p>",
        '<p class="muted">Score: the factors a record shares with its group\'s suggested survivor '
        f"({_e(weights)}); keep is suggested from {KEEP_THRESHOLD}. Decide in {_e(csv_name)} "
        "(column keep), then run <code>contacts-pipeline merge</code> on it.</p>",
    ]
    for group in groups:
        parts.append(f"<h2>Group {_e(group['group'][0])}</h2><table><tr>")
        parts.extend(f"<th>{_e(name)}</th>" for name in _SHOWN)
        parts.append("</tr>")
        for row in group.iter_rows(named=True):
            css = "survivor" if row["survivor"] == "yes" else ("" if row["keep"] == "yes" else "no")
            parts.append(f'<tr class="{css}">' + "".join(f"<td>{_e(row[n])}</td>" for n in _SHOWN) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_page(rows: pl.DataFrame, path: Path, *, contacts_scanned: int, csv_name: str) -> None:
    write_text_atomic(path, build_page(rows, contacts_scanned=contacts_scanned, csv_name=csv_name))


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)
