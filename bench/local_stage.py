"""One measurement of the local stage, meant to run alone in a fresh process (``bench/run.py`` starts it).

    python bench/local_stage.py FILE  ->  one JSON object on stdout

The chunked stage ``validate`` uses on large files: read, map, normalize and validate chunk by chunk
(spilled to disk), group partition by partition, plan each partition's records (every organization and
contact operation planned in chunks of ``PLAN_CHUNK``, as ``push_grouped`` does with a journal; each chunk
is pushed and dropped before the next is built, here only dropped), then write the CSV report by
streaming (``report_s``, which reads the input again). Planning an operation computes its key, source
rows and fingerprint; its request body is built only when it is sent (``pipeline.importing.bodies``), so
``plan_s`` counts keys and fingerprints, what the issue's target counts. For comparison, every body of
each chunk is then built as well, timed apart as ``bodies_s`` and left out of ``seconds`` (a push builds
only the bodies it sends; a change-only re-import few of them). Peak RSS is the process's high-water
mark (``VmHWM``), taken before the untimed phone check, so it covers the interpreter and the imports as
well (and one chunk's bodies): it is what the machine must have free to run the stage.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.fields import load_specs
from pipeline.importing.plan import (
    Operation,
    PlanOptions,
    chunks,
    contact_operations,
    organization_operations,
)
from pipeline.importing.push_file import PLAN_CHUNK
from pipeline.prepare.chunks import open_chunks
from pipeline.prepare.group import Grouped
from pipeline.prepare.mapping import to_canonical
from pipeline.prepare.normalize import phone_keys, phone_mapping
from pipeline.prepare.stage import PrepareOptions
from pipeline.report.validation import validate_chunked

# What the demo sandbox calls its schemas; the plan only copies the reference into each payload.
PLAN_OPTIONS = PlanOptions(
    external_source_id="00000000-0000-4000-8000-000000000001",
    contact_schema={"id": "bench-contact-schema", "version": 1},
)


def peak_rss_mb() -> float:
    """The high-water mark of resident memory, from /proc where there is one, else getrusage."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


class _Planner:
    """Plans each partition's records as the stage hands them over, timing only that; then builds every
    body of each planned chunk, timed apart."""

    def __init__(self) -> None:
        self.specs = load_specs()
        self.organizations = self.contacts = 0
        self.seconds = self.bodies_seconds = 0.0

    def __call__(self, part: Grouped) -> None:
        self.organizations += self._plan(
            organization_operations(part.organizations, self.specs, PLAN_OPTIONS)
        )
        self.contacts += self._plan(contact_operations(part.contacts, self.specs, PLAN_OPTIONS))

    def _plan(self, operations: Iterator[Operation]) -> int:
        """Plan every operation (keys and fingerprints) chunk by chunk, like the import; returns how many."""
        count = 0
        planned = chunks(operations, PLAN_CHUNK)
        while True:
            started = time.perf_counter()
            chunk = next(planned, None)
            if chunk is None:
                self.seconds += time.perf_counter() - started
                return count
            count += len({op.key: op.fingerprint for op in chunk})
            planned_at = time.perf_counter()
            self.seconds += planned_at - started
            for op in chunk:
                op.body  # noqa: B018  # reading it is what builds it
            self.bodies_seconds += time.perf_counter() - planned_at


class _TimedChunks:
    """The input's chunks, with the time spent reading them."""

    def __init__(self, chunks: Iterator[pl.DataFrame]) -> None:
        self.chunks = chunks
        self.seconds = 0.0

    def __iter__(self) -> Iterator[pl.DataFrame]:
        while True:
            started = time.perf_counter()
            chunk = next(self.chunks, None)
            self.seconds += time.perf_counter() - started
            if chunk is None:
                return
            yield chunk


def measure(path: Path) -> dict[str, Any]:
    planner = _Planner()
    started = time.perf_counter()
    table = open_chunks(path)
    opened_s = time.perf_counter() - started
    reads = _TimedChunks(table.chunks)
    table.chunks = iter(reads)
    result = validate_chunked(path, PrepareOptions(), specs=planner.specs, on_part=planner, table=table)
    # Building every body is measured for comparison only: a push builds just the bodies it sends.
    staged_s = time.perf_counter() - started - planner.bodies_seconds
    # Opening may read ahead (today's open_chunks reads the whole file there): both count as reading.
    read_s = opened_s + reads.seconds
    with tempfile.TemporaryDirectory() as folder:
        result.write_report(Path(folder) / "report.csv")
        total_s = time.perf_counter() - started - planner.bodies_seconds
    return {
        "rows": result.summary.rows_read,
        "seconds": round(total_s, 2),
        "read_s": round(read_s, 2),
        "map_normalize_validate_group_s": round(staged_s - read_s - planner.seconds, 2),
        "plan_s": round(planner.seconds, 2),
        "bodies_s": round(planner.bodies_seconds, 2),
        "report_s": round(total_s - staged_s, 2),
        "peak_rss_mb": round(peak_rss_mb()),
        "organizations": planner.organizations,
        "contacts": planner.contacts,
        "invalid_rows": result.summary.invalid_rows,
        "conflict_rows": result.summary.conflict_rows,
        **_phone_check(path, result.columns, planner.specs),
    }


def _phone_check(path: Path, columns: Any, specs: Any) -> dict[str, int]:
    """Every distinct phone key of the file through the fast path and through phonenumbers alone (untimed:
    it runs after the stage): how many the fast path answered, and how many answers differ (must be 0)."""
    region = PrepareOptions().default_region
    found = [phone_keys(to_canonical(raw, columns), specs, region) for raw in open_chunks(path).chunks]
    keys = pl.concat(found).unique() if found else pl.Series("old", [], dtype=pl.String)
    fast, slow = phone_mapping(keys), phone_mapping(keys, fast=False)
    differ = fast.join(slow, on="old", suffix="_slow").filter(pl.col("new").ne_missing(pl.col("new_slow")))
    return {"phone_keys": len(keys), "phone_fast_mismatches": differ.height}


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]))))
