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

import argparse
import cProfile
import dataclasses
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from pipeline.fields import load_specs
from pipeline.genesys.settings import ClientSettings, settings_from
from pipeline.importing.job import ImportOptions, Progress, import_file
from pipeline.importing.plan import PlanOptions, contact_operations
from pipeline.importing.push import default_concurrency
from pipeline.prepare.stage import PrepareOptions, prepare_file
from pipeline.sandbox import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_EXTERNAL_SOURCE_ID,
    SandboxConfig,
    run_sandbox,
)

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


# -- the client's ceiling: no budget, no latency, the sandbox in its own process --------------------------

MAX_RATE_ROWS = 50_000
TOP_COSTS = 12
_STOPPED = "sandbox stopped"


def serve_sandbox(profile_out: Path | None = None) -> None:
    """Serve a sandbox with no budget and no latency until stdin closes (run in a child process).

    Prints ``listening <base url> <CPU seconds so far>`` first (its start-up: imports, schemas) and, on
    stdin's end, one JSON line with its CPU seconds. With ``profile_out``, the server thread runs under
    cProfile and its statistics are dumped there.
    """
    profiler = cProfile.Profile(time.thread_time) if profile_out is not None else None
    if profiler is not None:
        # cProfile sees only the thread it is enabled in: the first event of each new thread (the
        # uvicorn thread) enables it there.
        threading.setprofile(lambda *_: profiler.enable())
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        threading.setprofile(None)  # type: ignore[arg-type]
        print(f"listening {sb.base_url} {time.process_time()}", flush=True)
        sys.stdin.read()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_out)
        stored = {"organizations": sb.store.count("organizations"), "contacts": sb.store.count("contacts")}
    print(json.dumps({"cpu_s": time.process_time(), "stored": stored}), flush=True)


@contextmanager
def sandbox_process(profile_out: Path | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """A sandbox in a child process (its own interpreter, so its own GIL): yields its base URL and a
    dict that holds, after the block, the child's CPU seconds (``cpu_s``, its start-up left out, which
    is ``startup_cpu_s``) and what it stored."""
    import pipeline

    env = {**os.environ, "PYTHONPATH": str(Path(pipeline.__file__).resolve().parents[1])}
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-sandbox"]
    if profile_out is not None:
        command += ["--profile-out", str(profile_out)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdin is not None
    assert child.stdout is not None
    result: dict[str, Any] = {}
    try:
        first = child.stdout.readline().split()
        if first[:1] != ["listening"]:
            raise RuntimeError("the sandbox process did not start")
        startup = float(first[2])
        yield first[1], result
        child.stdin.close()
        result.update(json.loads(child.stdout.readline()))
        result["startup_cpu_s"] = startup
        result["cpu_s"] -= startup
    finally:
        if child.poll() is None and not child.stdin.closed:
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def _top_costs(profile: cProfile.Profile | pstats.Stats, count: int = TOP_COSTS) -> list[dict[str, Any]]:
    """The functions with the most time of their own, with their cumulative time. The profilers count
    their thread's CPU time (``time.thread_time``), not wall time: the event loop waiting in ``epoll``
    for the other process was the top "cost" of both sides on the wall clock."""
    stats = profile if isinstance(profile, pstats.Stats) else pstats.Stats(profile)
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({name})",
                "calls": calls,
                "own_s": round(own, 3),
                "cumulative_s": round(cumulative, 3),
            }
        )
    return sorted(rows, key=lambda r: r["own_s"], reverse=True)[:count]


def max_rate(
    path: Path,
    *,
    concurrency: int | None = None,
    profile: bool = False,
    profile_sandbox: bool = False,
) -> dict[str, Any]:
    """Import ``path`` (journal on, as the CLI does) into a sandbox with no budget and no latency running
    in its own process, at the concurrency the import picks for no budget unless given.

    The rate is over the push: from the first answered batch to the last, in bulk requests of 10
    entities (every batch is full but the last of each kind). CPU is this process's over the same span.
    """
    marks: list[tuple[float, int]] = []  # (wall, entities done)
    cpu: list[float] = []  # CPU seconds at the first answered batch and at the last

    def on_progress(progress: Progress) -> None:
        done = progress.organizations_done + progress.contacts_done
        marks.append((time.perf_counter(), done))
        # Only at both ends: process_time sums every thread's clock, ~80 us a call in this process
        # (its commit and polars threads), which read after each batch made the client look slower.
        if len(marks) == 1 or done == progress.organizations_total + progress.contacts_total:
            cpu.append(time.process_time())

    profiler = cProfile.Profile(time.thread_time) if profile else None
    with tempfile.TemporaryDirectory() as tmp:
        sandbox_profile = Path(tmp) / "sandbox.prof" if profile_sandbox else None
        with sandbox_process(sandbox_profile) as (base_url, sandbox):
            settings = settings_from(
                region=None,
                base_url=base_url,
                client_id=DEMO_CLIENT_ID,
                client_secret=DEMO_CLIENT_SECRET,
                rate_limit=0,
                env={},
            )
            options = ImportOptions(contact_schema=CONTACT_SCHEMA, concurrency=concurrency)
            if profiler is not None:
                profiler.enable()
            result = import_file(
                path,
                settings,
                options,
                progress=Progress(listeners=[on_progress]),
                journal=Path(tmp) / "j.db",
            )
            if profiler is not None:
                profiler.disable()
            if len(cpu) < 2:  # some records were settled without a batch: the end is the import's
                cpu.append(time.process_time())
        sandbox_costs = _top_costs(pstats.Stats(str(sandbox_profile))) if sandbox_profile else []
    summary = result.summary
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    cpu0, cpu1 = cpu[0], cpu[-1]
    requests = (n1 - n0) / 10
    return {
        "rows": summary.rows,
        "entities": n1,
        "stored": sandbox["stored"],
        "requests_sent": summary.requests_sent,
        "throttled_429": summary.throttled,
        "concurrency": concurrency or default_concurrency(0),
        "push_s": round(t1 - t0, 2),
        "requests_per_s": round(requests / (t1 - t0), 1),
        "client_cpu_ms_per_request": round(1000 * (cpu1 - cpu0) / requests, 3),
        "client_cpu_share": round((cpu1 - cpu0) / (t1 - t0), 2),
        "sandbox_cpu_ms_per_request": round(1000 * sandbox["cpu_s"] / summary.requests_sent, 3),
        "client_top_costs": _top_costs(profiler) if profiler is not None else [],
        "sandbox_top_costs": sandbox_costs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Push client ceiling: bulk requests/s with no rate budget.")
    parser.add_argument(
        "--max-rate", action="store_true", help="measure the client's ceiling (the only mode)"
    )
    parser.add_argument("--rows", type=int, default=MAX_RATE_ROWS, help="rows of the generated file")
    parser.add_argument("--file", type=Path, help="import this file instead of a generated one")
    parser.add_argument("--concurrency", type=int, help="bulk requests in flight (default: the import's)")
    parser.add_argument(
        "--no-profile", action="store_true", help="skip the second, profiled run that finds the top costs"
    )
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.profile_out)
        return
    if not args.max_rate:
        parser.error("give --max-rate (the other push figures are run by run.py)")
    if args.file is None:
        from generate import cached  # bench/generate.py, beside this file

    path = args.file or cached(args.rows)
    figures = max_rate(path, concurrency=args.concurrency)
    if not args.no_profile:
        # cProfile slows both sides several times over: the costs come from a run of their own.
        profiled = max_rate(path, concurrency=args.concurrency, profile=True, profile_sandbox=True)
        figures["client_top_costs"] = profiled["client_top_costs"]
        figures["sandbox_top_costs"] = profiled["sandbox_top_costs"]
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
