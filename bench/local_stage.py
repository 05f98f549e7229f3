"""One measurement of the local stage, meant to run alone in a fresh process (``bench/run.py`` starts it).

    python bench/local_stage.py FILE  ->  one JSON object on stdout

read + map + normalize + validate + group (``prepare_table``, then its validation report), then plan:
every organization and contact operation built and fingerprinted in chunks of ``PLAN_CHUNK``, as
``push_grouped`` does with a journal
(each chunk is pushed and dropped before the next is built; here it is only dropped). Peak RSS is the
process's high-water mark (``VmHWM``), so it covers the interpreter and the imports as well: it is what
the machine must have free to run the stage.
"""

from __future__ import annotations

import json
import resource
import sys
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
from pipeline.prepare.mapping import to_canonical
from pipeline.prepare.normalize import phone_keys, phone_mapping
from pipeline.prepare.read import read_table
from pipeline.prepare.stage import PrepareOptions, prepare_table
from pipeline.report.validation import validation_report

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


def _plan(operations: Iterator[Operation]) -> int:
    """Build every operation (fingerprints included) chunk by chunk, like the import; returns how many."""
    count = 0
    for chunk in chunks(operations, PLAN_CHUNK):
        count += len({op.key: op.fingerprint for op in chunk})
    return count


def measure(path: Path) -> dict[str, Any]:
    specs = load_specs()
    started = time.perf_counter()
    raw = read_table(path)
    read_s = time.perf_counter() - started
    result = validation_report(prepare_table(raw, PrepareOptions(), specs=specs))
    validated_s = time.perf_counter() - started
    organizations = _plan(organization_operations(result.prepared.grouped.organizations, specs, PLAN_OPTIONS))
    contacts = _plan(contact_operations(result.prepared.grouped.contacts, specs, PLAN_OPTIONS))
    total_s = time.perf_counter() - started
    return {
        "rows": raw.frame.height,
        "seconds": round(total_s, 2),
        "read_s": round(read_s, 2),
        "map_normalize_validate_group_s": round(validated_s - read_s, 2),
        "plan_s": round(total_s - validated_s, 2),
        "peak_rss_mb": round(peak_rss_mb()),
        "organizations": organizations,
        "contacts": contacts,
        "invalid_rows": result.summary.invalid_rows,
        "conflict_rows": result.summary.conflict_rows,
        **_phone_check(raw, result.prepared.columns, specs),
    }


def _phone_check(raw: Any, columns: Any, specs: Any) -> dict[str, int]:
    """Every distinct phone key of the file through the fast path and through phonenumbers alone (untimed:
    it runs after the stage): how many the fast path answered, and how many answers differ (must be 0)."""
    keys = phone_keys(to_canonical(raw.frame, columns), specs, PrepareOptions().default_region)
    fast, slow = phone_mapping(keys), phone_mapping(keys, fast=False)
    differ = fast.join(slow, on="old", suffix="_slow").filter(pl.col("new").ne_missing(pl.col("new_slow")))
    return {"phone_keys": len(keys), "phone_fast_mismatches": differ.height}


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]))))
