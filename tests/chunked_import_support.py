"""Shared by the chunked import tests: the same imports run in memory and chunked, each into a fresh
sandbox on 127.0.0.1, and what the sandbox stored made comparable across runs."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sandbox_support import sandbox_settings
from test_chunked_stage import cross_chunk_rows, write_rows

from pipeline.importing import chunked_job
from pipeline.importing.job import ImportOptions, import_file
from pipeline.prepare.stage import PrepareOptions
from pipeline.report.summary import ImportResult
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
OPTIONS = ImportOptions(create_source=True, contact_schema="Demo contact fields")
# Fields that differ from run to run whatever was imported: ids, links and timestamps.
_VOLATILE = {"id", "selfUri", "createDate", "modifyDate", "dateCreated", "version", "externalSource"}


@dataclass
class Step:
    """One import of a run: its file (or a function of the run's folder making it) and its options."""

    file: Path | Callable[[Path], Path]
    options: ImportOptions = OPTIONS
    prepare: PrepareOptions = field(default_factory=PrepareOptions)
    only_failed: bool = False
    journal: bool = False


def external(record: dict[str, Any]) -> str:
    return ",".join(sorted(x["value"] for x in record.get("externalIds") or ()))


def canonical(value: Any, orgs: dict[str, str]) -> Any:
    """A stored record without what differs between runs; its organization link as that organization's
    external id."""
    if isinstance(value, dict):
        out = {k: canonical(v, orgs) for k, v in value.items() if k not in _VOLATILE}
        if "externalOrganization" in value:
            out["externalOrganization"] = orgs.get(value["externalOrganization"]["id"], "?unknown")
        return out
    if isinstance(value, list):
        return [canonical(v, orgs) for v in value]
    return value


def stored(sb: Sandbox) -> dict[str, list[str]]:
    """Everything the sandbox stores, comparable across runs (sorted, as JSON).

    An email or phone identifier goes to the first record stored with it, like the real API's, and the
    partitions are pushed in another order than the whole file: so which contact holds a value two
    contacts share may differ. Those identifiers are compared as one set per kind, not per record.
    """
    orgs = {o["id"]: external(o) for o in sb.store.all("organizations")}
    found: dict[str, list[str]] = {}
    for kind in ("organizations", "contacts"):
        records = [canonical(r, orgs) for r in sb.store.all(kind)]
        held = [i for r in records for i in r.get("identifiers", ()) if i["type"] != "ExternalId"]
        for record in records:
            record["identifiers"] = [i for i in record.get("identifiers", ()) if i["type"] == "ExternalId"]
        found[kind] = sorted(json.dumps(r, sort_keys=True) for r in records)
        found[f"{kind} identifiers"] = sorted(json.dumps(i, sort_keys=True) for i in held)
    return found


def report_rows(path: Path, sb: Sandbox) -> list[dict[str, str]]:
    """The reconciliation file's rows, each Genesys id read as the external id stored under it."""
    ids = {r["id"]: external(r) for kind in ("organizations", "contacts") for r in sb.store.all(kind)}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for column in ("genesys_organization_id", "genesys_contact_id"):
            if row[column]:
                row[column] = ids.get(row[column], "(an id the sandbox does not store)")
    return rows


@dataclass
class Outcome:
    reports: list[list[dict[str, str]]]
    summaries: list[dict[str, Any]]
    stored: dict[str, list[str]]
    warnings: list[list[str]]
    partitions_pushed: int


def summary_counts(result: ImportResult) -> dict[str, Any]:
    """The counts of a summary (not timings, nor requests: partitions end batches early)."""
    s = result.summary
    return {
        "rows": s.rows,
        "rows_succeeded": s.rows_succeeded,
        "organization_rows": s.organization_rows,
        "contact_rows": s.contact_rows,
        "organizations": s.organizations,
        "contacts": s.contacts,
        "deletions": s.deletions,
    }


def run_steps(
    folder: Path, steps: list[Step], monkeypatch: pytest.MonkeyPatch, chunked: tuple[int, int] | None
) -> Outcome:
    """Run ``steps`` into a fresh sandbox, in memory or (``chunked``: chunk rows, partitions) chunked."""
    folder.mkdir()
    pushed: list[int] = []
    with monkeypatch.context() as patch:
        if chunked is not None:
            patch.setattr("pipeline.report.validation.IN_MEMORY_BYTES", 10)
            patch.setattr(chunked_job, "CHUNK_ROWS", chunked[0])
            patch.setattr(chunked_job, "PARTITIONS", chunked[1])
        original = chunked_job.SpilledParts.__iter__

        def counted(self: chunked_job.SpilledParts) -> Iterator[Any]:
            for part in original(self):
                pushed.append(1)
                yield part

        patch.setattr(chunked_job.SpilledParts, "__iter__", counted)
        with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
            reports, summaries, warnings = [], [], []
            for index, step in enumerate(steps):
                path = step.file(folder) if callable(step.file) else step.file
                report = folder / f"report{index}.csv"
                result = import_file(
                    path,
                    sandbox_settings(sb),
                    step.options,
                    prepare=step.prepare,
                    report_path=report,
                    only_failed=step.only_failed,
                    journal=folder / "journal.db" if step.journal else None,
                )
                reports.append(report_rows(report, sb))
                summaries.append(summary_counts(result))
                warnings.append(result.warnings)
                assert result.report.height == len(reports[-1])
            return Outcome(reports, summaries, stored(sb), warnings, len(pushed))


def assert_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps: list[Step], rows: int, parts: int
) -> Outcome:
    memory = run_steps(tmp_path / "memory", steps, monkeypatch, None)
    chunked = run_steps(tmp_path / "chunked", steps, monkeypatch, (rows, parts))
    assert memory.partitions_pushed == 0
    assert chunked.partitions_pushed >= len(steps)  # every step went through the partitions
    assert chunked.reports == memory.reports
    assert chunked.summaries == memory.summaries
    assert chunked.warnings == memory.warnings
    assert chunked.stored == memory.stored
    return chunked


def rows_file(rows: list[list[str]]) -> Callable[[Path], Path]:
    return lambda folder: write_rows(folder / "in.csv", rows)


def changed_rows() -> list[list[str]]:
    """The cross-partition rows with one contact changed and one added to an account of another row."""
    rows = [row[:] for row in cross_chunk_rows()]
    rows[2][1] = "Cyrus"
    rows.append(["C20", "Zed", "zed@example.com", "", "A2", "Beta"])
    return rows


def temp_folders(root: Path) -> list[Path]:
    return [*root.glob("contacts-pipeline-stage-*"), *root.glob("contacts-pipeline-import-*")]


def large_file_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Large-file settings, temporary folders under ``tmp_path/temp`` (returned)."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr("pipeline.report.validation.IN_MEMORY_BYTES", 10)
    monkeypatch.setattr(chunked_job, "CHUNK_ROWS", 20)
    monkeypatch.setattr(chunked_job, "PARTITIONS", 4)
    return temp


def generated_rows(contacts: int, per_account: int) -> list[list[str]]:
    return [
        [
            f"C-{i:04d}",
            f"First{i}",
            f"user{i}@example.com",
            "",
            f"A-{i // per_account:03d}",
            f"Org {i // per_account}",
        ]
        for i in range(contacts)
    ]


def generated(path: Path, contacts: int, per_account: int) -> Path:
    return write_rows(path, generated_rows(contacts, per_account))
