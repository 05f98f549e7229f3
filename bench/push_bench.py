"""Push throughput against the sandbox, and the same push done the way a typical script does it.

Both runs face the same sandbox settings: a rate budget of ``BUDGET_PER_MINUTE`` requests a minute and
``LATENCY_MS`` of added latency per request. The budget is enforced over a window ``WINDOW_S`` seconds
long instead of 60 (with the per-window budget scaled down in proportion, on the sandbox *and* in the
client), so that a run of half a minute covers several windows; see bench/README.md for why.

Throughput is reported twice:

- ``steady``: entities finished after the first window has passed, over the time that took. A sliding
  window lets a fresh client send a whole window's budget at once; a real import of any size runs for
  many windows, so the steady rate is what it sees. This is the figure compared with the ceiling.
- ``whole_run``: every entity over the whole run, startup and first-window burst included.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import httpx

from pipeline.fields import load_specs
from pipeline.genesys.settings import ClientSettings, settings_from
from pipeline.importing.job import ImportOptions, Progress, import_file
from pipeline.importing.plan import PlanOptions, contact_operations
from pipeline.importing.push import default_concurrency
from pipeline.prepare.stage import PrepareOptions, prepare_file
from pipeline.sandbox import DEMO_EXTERNAL_SOURCE_ID, SandboxConfig, run_sandbox

BUDGET_PER_MINUTE = 600
LATENCY_MS = 50
WINDOW_S = 5.0
CONTACT_SCHEMA = "Demo contact fields"  # the sandbox's demo schema, which has the generated custom fields
API = "/api/v2/externalcontacts"

Timeline = list[tuple[float, int]]  # (monotonic time, entities finished so far)


def per_window(budget_per_minute: int, window_s: float) -> int:
    """The same rate over a shorter window: 600/min over 5 s is 50 per 5 s."""
    return max(1, round(budget_per_minute * window_s / 60))


def sandbox_config(window_s: float = WINDOW_S) -> SandboxConfig:
    return SandboxConfig(
        rate_limit=per_window(BUDGET_PER_MINUTE, window_s), rate_window_s=window_s, latency_ms=LATENCY_MS
    )


def client_settings(base_url: str, client_id: str, client_secret: str, window_s: float) -> ClientSettings:
    settings = settings_from(
        region=None,
        base_url=base_url,
        client_id=client_id,
        client_secret=client_secret,
        rate_limit=per_window(BUDGET_PER_MINUTE, window_s),
        env={},
    )
    return dataclasses.replace(settings, rate_window_s=window_s)


def rates(timeline: Timeline, started: float, window_s: float) -> dict[str, float]:
    """Whole-run and steady rates (per second) from a timeline of finished-entity counts."""
    if not timeline:
        return {"whole_run": 0.0, "steady": 0.0, "steady_s": 0.0}
    end_t, end_n = timeline[-1]
    first_t = timeline[0][0]
    # The last event of the first window is where steady counting starts (an event time, not the window
    # boundary, so no partly counted interval enters either side).
    base_t, base_n = next(((t, n) for t, n in reversed(timeline) if t <= first_t + window_s), timeline[0])
    steady_s = end_t - base_t
    return {
        "whole_run": end_n / (end_t - started) if end_t > started else 0.0,
        "steady": (end_n - base_n) / steady_s if steady_s > 0 else 0.0,
        "steady_s": steady_s,
    }


def pipeline_push(path: Path, window_s: float = WINDOW_S) -> dict[str, Any]:
    """Import ``path`` with contacts-pipeline into a fresh rate-limited sandbox."""
    timeline: Timeline = []

    def on_progress(progress: Progress) -> None:
        timeline.append((time.monotonic(), progress.organizations_done + progress.contacts_done))

    with run_sandbox(sandbox_config(window_s)) as sb:
        settings = client_settings(sb.base_url, sb.client_id, sb.client_secret, window_s)
        # The concurrency a real 600/min run picks; the scaled per-window budget would make it pick 2.
        concurrency = default_concurrency(BUDGET_PER_MINUTE)
        options = ImportOptions(contact_schema=CONTACT_SCHEMA, concurrency=concurrency)
        started = time.monotonic()
        result = import_file(path, settings, options, progress=Progress(listeners=[on_progress]))
        stats = sb.stats
        stored = {"organizations": sb.store.count("organizations"), "contacts": sb.store.count("contacts")}
    summary = result.summary
    entities = sum(summary.organizations.values()) + sum(summary.contacts.values())
    measured = rates(timeline, started, window_s)
    ceiling = 10 * BUDGET_PER_MINUTE / 60
    return {
        "rows": summary.rows,
        "entities": entities,
        "stored": stored,
        "requests_sent": summary.requests_sent,
        "throttled_429": summary.throttled,
        "sandbox_rate_limited": stats.rate_limited,
        "concurrency": concurrency,
        "seconds": round(timeline[-1][0] - started, 2) if timeline else 0.0,
        "entities_per_s_whole_run": round(measured["whole_run"], 1),
        "entities_per_s_steady": round(measured["steady"], 1),
        "steady_over_s": round(measured["steady_s"], 1),
        "ceiling_entities_per_s": ceiling,
        "percent_of_ceiling": round(100 * measured["steady"] / ceiling, 1),
        "percent_of_ceiling_whole_run": round(100 * measured["whole_run"] / ceiling, 1),
        "rows_per_s_steady": round(measured["steady"] * summary.rows / entities, 1) if entities else 0.0,
    }


def _single_enrich_bodies(path: Path, rows: int) -> list[dict[str, Any]]:
    """One single-enrich body per contact row, as a script would build from the spreadsheet."""
    specs = load_specs()
    validation = prepare_file(path, PrepareOptions(), specs=specs)
    options = PlanOptions(
        external_source_id=DEMO_EXTERNAL_SOURCE_ID, contact_schema=None, match=(), action="Upsert"
    )
    bodies = []
    for op in contact_operations(validation.grouped.contacts.head(rows), specs, options):
        body = {k: v for k, v in op.body.items() if k != "id"}
        body["contact"] = {k: v for k, v in body["contact"].items() if k != "customFields"}
        bodies.append(body)
    return bodies


def script_push(path: Path, rows: int, window_s: float = WINDOW_S) -> dict[str, Any]:
    """One ``POST /contacts/enrich`` per row, one after the other; on a 429, sleep Retry-After and resend.

    What a script written against the API reference does. It writes only contacts (a single enrich per
    row cannot link an organization it has not created), so per row it does less than the pipeline.
    """
    bodies = _single_enrich_bodies(path, rows)
    timeline: Timeline = []
    throttled = 0
    failed = 0
    with run_sandbox(sandbox_config(window_s)) as sb, httpx.Client(base_url=sb.base_url, timeout=30) as http:
        token = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(sb.client_id, sb.client_secret),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        started = time.monotonic()
        for done, body in enumerate(bodies, start=1):
            while True:
                response = http.post(f"{API}/contacts/enrich", json=body, headers=headers)
                if response.status_code != 429:
                    break
                throttled += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))
            failed += response.status_code >= 300
            timeline.append((time.monotonic(), done))
    measured = rates(timeline, started, window_s)
    return {
        "rows": len(bodies),
        "failed": failed,
        "throttled_429": throttled,
        "seconds": round(timeline[-1][0] - started, 2) if timeline else 0.0,
        "rows_per_s_steady": round(measured["steady"], 1),
        "rows_per_s_whole_run": round(measured["whole_run"], 1),
        "steady_over_s": round(measured["steady_s"], 1),
    }


def ratio(pipeline: dict[str, Any], script: dict[str, Any]) -> dict[str, float]:
    """How many times faster the pipeline is, per input row and per entity written (steady rates)."""
    script_rate = script["rows_per_s_steady"] or float("nan")
    return {
        "rows_per_s": round(pipeline["rows_per_s_steady"] / script_rate, 1),
        "entities_per_s": round(pipeline["entities_per_s_steady"] / script_rate, 1),
    }
