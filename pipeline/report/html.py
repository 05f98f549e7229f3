"""The HTML run report: one self-contained file a person opens in a browser.

:func:`build_html` is pure (a :class:`RunReport` in, an HTML string out); :func:`write_html` writes it
atomically. Everything is inline (CSS, SVG charts) and nothing is fetched from the network, so the file
works offline, from an e-mail attachment or a share. Every value is escaped (cells can hold markup) and
every error message is masked (they quote e-mails and phone numbers).
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from pipeline.files import write_text_atomic
from pipeline.journal.records import BatchRecord
from pipeline.masking import mask_in_text

# Examples shown per error code, batches per "slowest" / "most retried" table: enough to act on.
EXAMPLES_PER_CODE = 3
BATCHES_SHOWN = 5
CODES_SHOWN = 20
# Time buckets of the throughput plot.
THROUGHPUT_BUCKETS = 20
_BAR_HEIGHT = 22
_CHART_WIDTH = 560
_LABEL_WIDTH = 190
_PLOT_HEIGHT = 160

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:60em;
color:#1d2330;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #dde;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .7em;text-align:left;vertical-align:top;
border-bottom:1px solid #eef}th{background:#f4f5f9}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f4f5f9;padding:0 .25em}svg text{font:12px system-ui,sans-serif;fill:#1d2330}
.muted{color:#667}
"""


@dataclass(frozen=True)
class ErrorExample:
    """One row that failed with a code: where it is (source row, or the record's key) and why."""

    row: str
    message: str


@dataclass(frozen=True)
class ErrorCode:
    """An error code, how many rows or records have it, and a few of them."""

    code: str
    count: int
    examples: tuple[ErrorExample, ...] = ()


@dataclass(frozen=True)
class RunReport:
    """What the HTML report shows; empty parts are left out of the page."""

    title: str
    facts: tuple[tuple[str, str], ...] = ()
    counts: tuple[tuple[str, int], ...] = ()
    errors: tuple[ErrorCode, ...] = ()
    batches: tuple[BatchRecord, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, href relative to the HTML file)
    notes: tuple[str, ...] = field(default=())


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def bar_chart(counts: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per (label, count), as inline SVG."""
    top = max((n for _, n in counts), default=0) or 1
    bar_room = _CHART_WIDTH - _LABEL_WIDTH - 60
    height = _BAR_HEIGHT * len(counts) + 4
    parts = [
        f'<svg role="img" aria-label="outcome counts" width="{_CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_CHART_WIDTH} {height}">'
    ]
    for i, (label, n) in enumerate(counts):
        y = i * _BAR_HEIGHT + 2
        width = max(1, round(bar_room * n / top)) if n else 0
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{width}" height="{_BAR_HEIGHT - 6}" '
            f'fill="{_colour(label)}"><title>{_e(label)}: {n}</title></rect>'
            f'<text x="{_LABEL_WIDTH + width + 6}" y="{y + 15}">{n}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _colour(label: str) -> str:
    word = label.rsplit(" ", 1)[-1]
    good = {"created", "updated", "unchanged", "valid", "exported", "contacts", "organizations", "rows"}
    if word in good:
        return "#3a8a5c"
    return "#c0392b" if word in {"failed", "invalid", "conflict", "unknown"} else "#d08a1e"


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def throughput(
    batches: Sequence[BatchRecord], buckets: int = THROUGHPUT_BUCKETS
) -> list[tuple[float, float]]:
    """``(seconds since the first batch started, records per second)`` at both ends of each time bucket
    (a step line), a batch counted in the bucket where it was answered."""
    if not batches:
        return []
    start = min(_seconds(b.started_at) for b in batches)
    end = max(_seconds(b.ended_at) for b in batches)
    width = max((end - start) / buckets, 1.0)
    count = max(1, min(buckets, int((end - start) // width) + 1))
    records = [0] * count
    for b in batches:
        records[min(count - 1, int((_seconds(b.ended_at) - start) // width))] += b.records
    return [(round((i + end) * width, 3), n / width) for i, n in enumerate(records) for end in (0, 1)]


def throughput_plot(points: Sequence[tuple[float, float]]) -> str:
    """Records per second over the run, as an inline SVG polyline with its axes labelled."""
    left, bottom, width = 50, _PLOT_HEIGHT - 25, _CHART_WIDTH - 70
    x_max = max((x for x, _ in points), default=1.0) or 1.0
    y_max = max((y for _, y in points), default=1.0) or 1.0
    coords = " ".join(
        f"{left + width * x / x_max:.1f},{bottom - (bottom - 10) * y / y_max:.1f}" for x, y in points
    )
    return (
        f'<svg role="img" aria-label="throughput over time" width="{_CHART_WIDTH}" height="{_PLOT_HEIGHT}" '
        f'viewBox="0 0 {_CHART_WIDTH} {_PLOT_HEIGHT}">'
        f'<line x1="{left}" y1="{bottom}" x2="{left + width}" y2="{bottom}" stroke="#99a"/>'
        f'<line x1="{left}" y1="10" x2="{left}" y2="{bottom}" stroke="#99a"/>'
        f'<text x="{left - 4}" y="16" text-anchor="end">{y_max:.1f}</text>'
        f'<text x="{left - 4}" y="{bottom}" text-anchor="end">0</text>'
        f'<text x="{left + width}" y="{bottom + 16}" text-anchor="end">{x_max:.0f} s</text>'
        f'<text x="{left + width / 2}" y="{bottom + 16}" text-anchor="middle">records per second</text>'
        f'<polyline points="{coords}" fill="none" stroke="#2f6db5" stroke-width="2"/></svg>'
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric: frozenset[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _errors(errors: Sequence[ErrorCode]) -> str:
    rows = []
    for err in errors[:CODES_SHOWN]:
        examples = "<br>".join(f"row {_e(x.row)}: {_e(mask_in_text(x.message))}" for x in err.examples)
        rows.append(
            f'<tr><td><code>{_e(err.code)}</code></td><td class="n">{err.count}</td><td>{examples}</td></tr>'
        )
    more = len(errors) - CODES_SHOWN
    note = f'<p class="muted">{more} more codes in the report file.</p>' if more > 0 else ""
    head = "<tr><th>error code</th><th>count</th><th>examples (personal data masked)</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>{note}"


def _batch_rows(batches: Sequence[BatchRecord]) -> list[tuple[object, ...]]:
    return [(b.batch, b.kind, b.records, b.attempts, f"{b.duration_s:.3f}", b.ended_at) for b in batches]


def _batches(batches: Sequence[BatchRecord]) -> str:
    header = ("batch", "kind", "records", "requests", "seconds", "answered at")
    numeric = frozenset({0, 2, 3, 4})
    slowest = sorted(batches, key=lambda b: (-b.duration_s, b.batch))[:BATCHES_SHOWN]
    retried = sorted((b for b in batches if b.attempts > 1), key=lambda b: (-b.attempts, b.batch))
    parts = [
        f"<p>{len(batches)} bulk batches, {sum(b.records for b in batches)} records answered.</p>",
        "<h3>Slowest batches</h3>",
        _table(header, _batch_rows(slowest), numeric),
        "<h3>Most retried batches</h3>",
        _table(header, _batch_rows(retried[:BATCHES_SHOWN]), numeric)
        if retried
        else "<p>No batch needed more than one request.</p>",
        "<h3>Throughput over time</h3>",
        throughput_plot(throughput(batches)),
    ]
    return "".join(parts)


def build_html(report: RunReport) -> str:
    """The whole page for ``report``: escaped, masked, with no external resource."""
    body = [f"<h1>{_e(report.title)}</h1>"]
    if report.facts:
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in report.facts)
        body.append(f"<table>{rows}</table>")
    body.extend(f'<p class="muted">{_e(note)}</p>' for note in report.notes)
    if report.counts:
        body += ["<h2>Outcomes</h2>", bar_chart(report.counts)]
    body.append("<h2>Errors</h2>")
    body.append(_errors(report.errors) if report.errors else "<p>No errors.</p>")
    if report.batches:
        body += ["<h2>Batches</h2>", _batches(report.batches)]
    if report.links:
        items = "".join(
            f'<li><a href="{_e(href)}">{_e(label)}</a> <code>{_e(href)}</code></li>'
            for label, href in report.links
        )
        body += ["<h2>Files</h2>", f"<ul>{items}</ul>"]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def relative_href(target: str | Path, page: str | Path) -> str:
    """``target`` as a link from the HTML file at ``page``: relative, with forward slashes (on Windows, a
    file on another drive has no relative path: then its file: URI)."""
    try:
        relative = os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)
    except ValueError:
        return Path(target).resolve().as_uri()
    return quote(Path(relative).as_posix())


def write_html(report: RunReport, path: str | Path) -> Path:
    """Write the page atomically, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, build_html(report))
    return path
