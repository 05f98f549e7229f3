"""Re-import with 1 % of rows changed (requests sent vs a full import), then export from the same sandbox.

Re-import: a first import with the journal, then the same file with 1 % of its rows changed (a contact's
title), change-only as ``import --journal`` does by default. Requests are what the figure is about, so the
sandbox has no rate limit or latency here and the section stays quick; the time the same requests would
take at the budget is derived from the counts.

Export: the records those imports left in the sandbox, exported (``--kind both``: organizations first,
then contacts) under the same 600/min budget and 50 ms latency as the push, over a window of
``EXPORT_WINDOW_S`` seconds (budget scaled alike) so the run covers several windows.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
from push_bench import BUDGET_PER_MINUTE, CONTACT_SCHEMA, LATENCY_MS, client_settings, per_window, rates

from pipeline.exporting.job import ExportOptions, ExportProgress, export
from pipeline.importing.job import ImportOptions, import_file
from pipeline.sandbox import SandboxConfig, run_sandbox

CHANGED_SHARE = 0.01
CHANGED_COLUMN = "Contact Title"
EXPORT_WINDOW_S = 2.0


def change_rows(source: Path, target: Path, share: float = CHANGED_SHARE, seed: int = 11) -> int:
    """Copy ``source`` with ``share`` of its rows given a new contact title; returns how many changed."""
    frame = pl.read_csv(source, infer_schema=False)
    chosen = sorted(random.Random(seed).sample(range(frame.height), round(frame.height * share)))
    title = pl.col(CHANGED_COLUMN)
    changed = frame.with_row_index("_row").with_columns(
        pl.when(pl.col("_row").is_in(chosen))
        .then(pl.concat_str(title.fill_null("Staff"), pl.lit(" (promoted)")))
        .otherwise(title)
        .alias(CHANGED_COLUMN)
    )
    changed.drop("_row").write_csv(target)
    return len(chosen)


def _import_counts(result: Any) -> dict[str, Any]:
    s = result.summary
    return {
        "requests_sent": s.requests_sent,
        "records": {"organizations": s.organizations, "contacts": s.contacts},
        "seconds": round(s.duration_s, 2),
    }


def run(path: Path, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The re-import figures and the export figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    journal = workdir / "journal.db"
    for stale in workdir.glob("journal.db*"):
        stale.unlink()
    changed_path = workdir / "changed.csv"
    changed_rows = change_rows(path, changed_path)
    options = ImportOptions(contact_schema=CONTACT_SCHEMA)
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        # No client-side budget either: only the request counts matter here.
        settings = replace(
            client_settings(sb.base_url, sb.client_id, sb.client_secret, 60.0), rate_limit_per_minute=0
        )
        full = import_file(path, settings, options, journal=journal)
        again = import_file(changed_path, settings, options, journal=journal)
        full_requests, re_requests = full.summary.requests_sent, again.summary.requests_sent
        reimport = {
            "rows": full.summary.rows,
            "changed_rows": changed_rows,
            "full_import": _import_counts(full),
            "reimport_1_percent": _import_counts(again),
            "requests_ratio_percent": round(100 * re_requests / full_requests, 2) if full_requests else None,
            "minutes_at_budget_full": round(full_requests / BUDGET_PER_MINUTE, 2),
            "minutes_at_budget_reimport": round(re_requests / BUDGET_PER_MINUTE, 2),
        }
        sb.configure(
            rate_limit=per_window(BUDGET_PER_MINUTE, EXPORT_WINDOW_S),
            rate_window_s=EXPORT_WINDOW_S,
            latency_ms=LATENCY_MS,
        )
        exported = _export(sb, workdir)
    return reimport, exported


def _export(sb: Any, workdir: Path) -> dict[str, Any]:
    settings = client_settings(sb.base_url, sb.client_id, sb.client_secret, EXPORT_WINDOW_S)
    out = workdir / "export.csv"
    timeline: list[tuple[float, int]] = []

    def on_page(progress: ExportProgress) -> None:
        timeline.append((time.monotonic(), progress.organizations_scanned + progress.rows_written))

    started = time.monotonic()
    result = export(out, settings, ExportOptions(), progress=ExportProgress(listeners=[on_page]))
    finished = time.monotonic()
    records = result.manifest["records"]
    total = records["contacts"] + records["organizations"]
    measured = rates(timeline, started, EXPORT_WINDOW_S)
    ceiling = 200 * BUDGET_PER_MINUTE / 60
    whole = total / (finished - started)
    return {
        "records": records,
        "rows_written": result.manifest["rows"],
        "seconds": round(finished - started, 2),
        "records_per_s_whole_run": round(whole, 1),
        "records_per_s_steady": round(measured["steady"], 1),
        "steady_over_s": round(measured["steady_s"], 1),
        "ceiling_records_per_s": ceiling,
        "percent_of_ceiling": round(100 * measured["steady"] / ceiling, 1),
        "percent_of_ceiling_whole_run": round(100 * whole / ceiling, 1),
        "sandbox_rate_limited": sb.stats.rate_limited,
    }
