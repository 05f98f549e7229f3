"""Shared by the journal, resume and re-import tests: generated inputs, a recorder of what the sandbox
was sent, and the import command run as a real subprocess."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pipeline.sandbox import Sandbox

HEADERS = [
    "Contact ID",
    "Contact First Name",
    "Contact Last Name",
    "Contact Title",
    "Contact Work Email",
    "Account ID",
    "Account Name",
    "Account City",
]
# The import CLI as a child process. SIGINT is given Python's default handler explicitly: a child started
# from a shell that ignores SIGINT (background jobs) would otherwise inherit "ignore".
PROGRAM = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from pipeline.cli import main; sys.exit(main())"
)
# Upper bounds for waits, so a broken run fails the test instead of hanging it.
RUN_TIMEOUT_S = 90.0
POLL_S = 0.01


def make_rows(contacts: int, accounts: int) -> list[dict[str, str]]:
    """``contacts`` rows spread over ``accounts`` accounts (each account's rows agree)."""
    rows = []
    for i in range(contacts):
        account = i % accounts
        rows.append(
            {
                "Contact ID": f"C-{i:05d}",
                "Contact First Name": f"First{i}",
                "Contact Last Name": f"Last{i}",
                "Contact Title": "Buyer",
                "Contact Work Email": f"person{i}@example.com",
                "Account ID": f"A-{account:04d}",
                "Account Name": f"Account {account} Ltd",
                "Account City": "Dublin",
            }
        )
    return rows


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADERS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass
class SentRecorder:
    """Every (kind, key) the sandbox's bulk enrich was asked to write, tagged with the current phase."""

    phase: str = "first"
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self, phase: str | None = None) -> set[tuple[str, str]]:
        with self.lock:
            return {(kind, key) for p, kind, key in self.sent if phase is None or p == phase}

    def clear(self) -> None:
        with self.lock:
            self.sent.clear()


def record_sent(monkeypatch: pytest.MonkeyPatch) -> SentRecorder:
    """Record what reaches the sandbox's bulk enrich (the handler looks ``run_bulk`` up at call time)."""
    from pipeline.sandbox.routes import enrich as app

    recorder = SentRecorder()
    original = app.run_bulk

    def recording(store: Any, kind: Any, entities: list[Any], **kwargs: Any) -> dict[str, Any]:
        with recorder.lock:
            recorder.sent.extend(
                (recorder.phase, kind.name, str(e.get("id"))) for e in entities if isinstance(e, dict)
            )
        return original(store, kind, entities, **kwargs)

    monkeypatch.setattr(app, "run_bulk", recording)
    return recorder


def external_ids(sb: Sandbox, collection: str) -> Counter[str]:
    """How many stored records carry each ExternalId value."""
    return Counter(
        ext["value"] for record in sb.store.all(collection) for ext in record.get("externalIds", [])
    )


def child_env(sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYS_", "CONTACTS_PIPELINE_"))}
    env["GENESYS_CLIENT_SECRET"] = sb.client_secret
    return env


def import_args(sb: Sandbox, csv_path: Path, journal: Path, report: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        PROGRAM,
        "import",
        str(csv_path),
        "--base-url",
        sb.base_url,
        "--client-id",
        sb.client_id,
        "--create-source",
        "--rate-limit",
        "0",
        "--journal",
        str(journal),
        "--report",
        str(report),
        *extra,
    ]


def start_import(sb: Sandbox, *args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*args], cwd=cwd, env=child_env(sb), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    return process.returncode, stdout, stderr


def journal_query(journal: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the journal from outside the importing process (WAL lets a reader in while it writes)."""
    if not journal.exists():
        return []
    db = sqlite3.connect(journal, timeout=5)
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # the importer has not created the tables yet
    finally:
        db.close()


def answered_batches(journal: Path) -> int:
    rows = journal_query(journal, "SELECT COUNT(DISTINCT batch) FROM outcomes WHERE batch > 0")
    return int(rows[0][0]) if rows else 0


def run_started(journal: Path) -> bool:
    return bool(journal_query(journal, "SELECT id FROM runs WHERE state = 'running'"))


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    """Poll until ``condition`` holds; fail if the process ends first or time runs out."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not condition():
        if process.poll() is not None:
            stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
            pytest.fail(f"import ended (rc {process.returncode}) before {what}:\n{stdout}\n{stderr}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate(timeout=RUN_TIMEOUT_S)
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(POLL_S)
