"""The ``batches`` table (schema version 3): per answered bulk batch, its records, attempts and timing,
for the HTML report's slowest batches and throughput over time."""

from __future__ import annotations

import sqlite3

from pipeline.journal.records import BatchRecord, BatchTiming


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
