"""The ``batches`` table (schema version 3): per answered bulk batch, its records, attempts and timing,
for the HTML report's slowest batches and throughput over time; and a batch's rows in ``outcomes``."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from pipeline.journal.records import BatchRecord, BatchTiming
from pipeline.outcomes import Outcome


def insert_batch(
    db: sqlite3.Connection,
    run_id: int,
    batch: int,
    session: int,
    kind: str,
    records: int,
    timing: BatchTiming,
) -> None:
    """Remember one answered batch, inside the caller's write transaction (the one recording its outcomes)."""
    db.execute(
        "INSERT OR REPLACE INTO batches (run_id, batch, session, kind, records, attempts, "
        "started_at, ended_at, duration_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, batch, session, kind, records, timing.attempts,
         timing.started_at, timing.ended_at, timing.duration_s),
    )  # fmt: skip


def insert_outcomes(
    db: sqlite3.Connection,
    run_id: int,
    outcomes: list[Outcome],
    batch: int,
    session: int,
    fingerprints: Mapping[tuple[str, str], str],
    timing: BatchTiming | None,
) -> None:
    """One batch's outcomes (and its ``batches`` row when it was timed), inside the caller's transaction."""
    if timing is not None and outcomes:
        insert_batch(db, run_id, batch, session, outcomes[0].kind, len(outcomes), timing)
    db.executemany(
        "INSERT OR REPLACE INTO outcomes (run_id, kind, key, status, genesys_id, error_code, "
        "error_message, fingerprint, batch, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (run_id, o.kind, o.key, str(o.status), o.genesys_id, o.error_code, o.error_message,
             fingerprints.get((o.kind, o.key)), batch, session)
            for o in outcomes
        ],
    )  # fmt: skip


def read_batches(db: sqlite3.Connection, run_id: int) -> list[BatchRecord]:
    """The run's timed batches in batch order; none for a journal older than version 3."""
    try:
        rows = db.execute(
            "SELECT batch, session, kind, records, attempts, started_at, ended_at, duration_s "
            "FROM batches WHERE run_id = ? ORDER BY batch",
            (run_id,),
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # no such table: an older journal opened read-only
    return [BatchRecord(*row) for row in rows]
