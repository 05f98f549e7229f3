"""Before-images and reverts: the journal's memory of what records held before a run wrote them, and of
the runs ``runs revert`` undid.

``before_images`` holds record contents (names, emails, phones, custom fields): personal data, kept as
long as the journal is (docs/journal.md). Only ``import --save-before`` writes it. The first image of a
record in a run wins: a resumed run re-reads records the crash may already have written, and those
later reads are not what the record held before the run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.files import utc_now_iso
from pipeline.journal.store import Journal
from pipeline.outcomes import Status


@dataclass(frozen=True)
class BeforeImage:
    """A record as it was stored just before a run wrote it."""

    kind: str
    key: str
    genesys_id: str
    source_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class RunRecord:
    """One outcome of a run, as a revert plans from it."""

    kind: str
    key: str
    status: Status
    genesys_id: str | None


@dataclass(frozen=True)
class Reverted:
    run_id: int
    reverted_at: str
    counts: dict[str, Any]


def save_before_images(journal: Journal, run_id: int, images: Iterable[BeforeImage]) -> None:
    rows = [
        (run_id, i.kind, i.key, i.genesys_id, i.source_id, json.dumps(i.body, sort_keys=True), utc_now_iso())
        for i in images
    ]
    if not rows:
        return
    with journal.transaction() as db:
        db.executemany(
            "INSERT OR IGNORE INTO before_images (run_id, kind, key, genesys_id, source_id, body, saved_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def saved_keys(journal: Journal, run_id: int, kind: str) -> set[str]:
    """Keys of the records of ``kind`` the run already has a before-image of."""
    rows = journal.read("SELECT key FROM before_images WHERE run_id = ? AND kind = ?", (run_id, kind))
    return {row[0] for row in rows}


def before_images(journal: Journal, run_id: int) -> dict[tuple[str, str], BeforeImage]:
    """The run's before-images by (kind, key); none for a journal older than version 4."""
    rows = journal.read(
        "SELECT kind, key, genesys_id, source_id, body FROM before_images WHERE run_id = ?", (run_id,)
    )
    return {
        (kind, key): BeforeImage(kind, key, gid, source, json.loads(body))
        for kind, key, gid, source, body in rows
    }


def run_records(journal: Journal, run_id: int) -> list[RunRecord]:
    rows = journal.read(
        "SELECT kind, key, status, genesys_id FROM outcomes WHERE run_id = ? ORDER BY kind, key", (run_id,)
    )
    return [RunRecord(kind, key, Status(status), gid) for kind, key, status, gid in rows]


def later_writes(journal: Journal, run_id: int) -> dict[str, int]:
    """Genesys ids a later (not dry) run created or updated, with the newest such run: reverting an
    older run over them would undo the later run's writes too."""
    rows = journal.read(
        "SELECT o.genesys_id, MAX(o.run_id) FROM outcomes o JOIN runs r ON r.id = o.run_id "
        "WHERE o.run_id > ? AND r.dry_run = 0 AND o.status IN (?, ?) AND o.genesys_id IS NOT NULL "
        "GROUP BY o.genesys_id",
        (run_id, str(Status.CREATED), str(Status.UPDATED)),
    )
    return {str(gid): int(later) for gid, later in rows}


def reverted(journal: Journal, run_id: int) -> Reverted | None:
    rows = journal.read("SELECT reverted_at, counts FROM reverts WHERE run_id = ?", (run_id,))
    if not rows:
        return None
    return Reverted(run_id, rows[0][0], json.loads(rows[0][1]))


def reverted_runs(journal: Journal) -> dict[int, Reverted]:
    """Every run ``runs revert`` undid, by run id (none in a journal older than reverts)."""
    rows = journal.read("SELECT run_id, reverted_at, counts FROM reverts")
    return {int(r[0]): Reverted(int(r[0]), r[1], json.loads(r[2])) for r in rows}


def mark_reverted(
    journal: Journal, run_id: int, counts: Mapping[str, Any], deleted: Iterable[str], restored: Iterable[str]
) -> None:
    """Record the revert, and make the change-only memory forget what it undid (:func:`forget`)."""
    with journal.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO reverts (run_id, reverted_at, counts) VALUES (?, ?, ?)",
            (run_id, utc_now_iso(), json.dumps(dict(counts), sort_keys=True)),
        )
        _forget(db, deleted, restored)


def forget(journal: Journal, deleted: Iterable[str], restored: Iterable[str]) -> None:
    """Deleted records' ids are gone, and restored records no longer hold what the run pushed: the next
    import must send them rather than skip them as unchanged. Also for a revert that did not finish."""
    with journal.transaction() as db:
        _forget(db, deleted, restored)


def _forget(db: sqlite3.Connection, deleted: Iterable[str], restored: Iterable[str]) -> None:
    db.executemany("DELETE FROM fingerprints WHERE genesys_id = ?", [(i,) for i in deleted])
    db.executemany(
        "UPDATE fingerprints SET fingerprint = NULL WHERE genesys_id = ?", [(i,) for i in restored]
    )
