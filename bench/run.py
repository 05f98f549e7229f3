"""``make bench``: generate the data, measure every figure, print them and write bench/results.json.

    python bench/run.py [--sizes 100000,1000000] [--push-rows 2500] [--script-rows 250]
                        [--reimport-rows 20000] [--out bench/results.json]

Sections (bench/README.md explains each figure):

1. local stage (read + normalize + validate + group + plan), each size in a fresh process;
2. push throughput against the sandbox vs the ceiling ``10 x budget / 60``;
3. the same push the way a typical script does it (single enrich per row, sequential), as a ratio;
4. re-import with 1 % changed rows: requests sent vs a full import;
5. export: records per second vs the scan ceiling ``200 x budget / 60``.

Generated files are cached in bench/.data/ (gitignored), so a second run skips generation.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import generate
import polars as pl
import push_bench
import reimport_export

HERE = Path(__file__).resolve().parent
LOCAL_GOAL_S = 60.0
LOCAL_GOAL_RSS_MB = 4096
PUSH_GOAL_PERCENT = 90.0


def say(text: str = "") -> None:
    print(text, flush=True)


def ensure_data(rows: int) -> tuple[Path, float]:
    started = time.perf_counter()
    path = generate.cached(rows)
    return path, time.perf_counter() - started


def local_stage(path: Path) -> dict[str, Any]:
    """One size measured in a fresh interpreter, so its peak RSS is its own."""
    done = subprocess.run(
        [sys.executable, str(HERE / "local_stage.py"), str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="row counts for the local stage")
    parser.add_argument("--push-rows", type=int, default=2500)
    parser.add_argument("--script-rows", type=int, default=250)
    parser.add_argument("--reimport-rows", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    # The client warns on each 429; the benchmark counts them instead of printing each one.
    logging.getLogger("pipeline.genesys").setLevel(logging.ERROR)
    began = time.perf_counter()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "polars": pl.__version__,
            "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
    }

    say("== 1. Local stage: read + normalize + validate + group + plan (fresh process per size)")
    results["local_stage"] = {}
    for rows in (int(s) for s in args.sizes.split(",") if s.strip()):
        path, generated_s = ensure_data(rows)
        figures = local_stage(path)
        figures["generate_s"] = round(generated_s, 1)
        ok = figures["seconds"] < LOCAL_GOAL_S and figures["peak_rss_mb"] < LOCAL_GOAL_RSS_MB
        goal = f"goal < {LOCAL_GOAL_S:.0f} s and < {LOCAL_GOAL_RSS_MB} MB" if rows >= 1_000_000 else ""
        say(
            f"   {rows:>9,} rows: {figures['seconds']:6.1f} s, peak RSS {figures['peak_rss_mb']:,} MB "
            f"(read {figures['read_s']} s, map+normalize+validate+group "
            f"{figures['map_normalize_validate_group_s']} s, plan {figures['plan_s']} s)"
            + (f"  -> {_verdict(ok)} ({goal})" if goal else "")
        )
        results["local_stage"][str(rows)] = figures

    budget = push_bench.BUDGET_PER_MINUTE
    say(
        f"== 2. Push throughput: sandbox budget {budget}/min (over a {push_bench.WINDOW_S:g} s window), "
        f"{push_bench.LATENCY_MS} ms latency"
    )
    push_path, _ = ensure_data(args.push_rows)
    push = push_bench.pipeline_push(push_path)
    results["push"] = push
    say(
        f"   {push['entities']:,} entities ({push['rows']:,} rows) in {push['seconds']} s: "
        f"{push['entities_per_s_steady']} entities/s steady vs ceiling {push['ceiling_entities_per_s']:g} "
        f"= {push['percent_of_ceiling']}%  -> {_verdict(push['percent_of_ceiling'] >= PUSH_GOAL_PERCENT)} "
        f"(>= {PUSH_GOAL_PERCENT:g}%)"
    )
    say(
        f"   whole run incl. startup: {push['entities_per_s_whole_run']} entities/s "
        f"({push['percent_of_ceiling_whole_run']}%); {push['requests_sent']} requests, "
        f"{push['throttled_429']} answered 429"
    )

    say("== 3. The same push as a typical script: one POST /contacts/enrich per row, sequential")
    script = push_bench.script_push(push_path, args.script_rows)
    results["typical_script"] = script
    ratio = push_bench.ratio(push, script)
    results["ratio"] = ratio
    say(
        f"   {script['rows']} rows in {script['seconds']} s: {script['rows_per_s_steady']} rows/s steady "
        f"({script['throttled_429']} answered 429)"
    )
    say(
        f"   pipeline vs script: {ratio['rows_per_s']}x rows per second "
        f"({ratio['entities_per_s']}x entities per second; the script writes no organizations)"
    )

    say("== 4. Re-import with 1% of rows changed (journal, change-only) vs a full import")
    re_path, _ = ensure_data(args.reimport_rows)
    reimport, exported = reimport_export.run(re_path, generate.DATA_DIR / "work")
    results["reimport"] = reimport
    full, again = reimport["full_import"], reimport["reimport_1_percent"]
    say(
        f"   {reimport['rows']:,} rows, {reimport['changed_rows']} changed: full import "
        f"{full['requests_sent']:,} requests, re-import {again['requests_sent']} requests "
        f"= {reimport['requests_ratio_percent']}% "
        f"(at {budget}/min: {reimport['minutes_at_budget_full']} min vs "
        f"{reimport['minutes_at_budget_reimport']} min)"
    )

    say(
        f"== 5. Export (--kind both) at {budget}/min (over a {reimport_export.EXPORT_WINDOW_S:g} s window), "
        f"{push_bench.LATENCY_MS} ms latency"
    )
    results["export"] = exported
    records = exported["records"]["contacts"] + exported["records"]["organizations"]
    say(
        f"   {records:,} records in {exported['seconds']} s: {exported['records_per_s_steady']} records/s "
        f"steady vs ceiling {exported['ceiling_records_per_s']:g} = {exported['percent_of_ceiling']}% "
        f"(whole run {exported['records_per_s_whole_run']}/s, {exported['percent_of_ceiling_whole_run']}%)"
    )

    results["total_s"] = round(time.perf_counter() - began, 1)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    say(f"== done in {results['total_s']} s; figures written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
