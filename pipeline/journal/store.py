"""The run journal: an embedded SQLite file that makes imports durable and re-imports change-only.

It records

* ``runs``: one row per import (input path and sha256, options, start/end, state, counts, report path);
* ``outcomes``: every record's outcome in a run, committed as soon as its bulk batch is answered (so a
  crash loses at most the batches in flight, and ``--resume`` sends none of the answered ones again);
* ``fingerprints``: scope + kind + key -> fingerprint and Genesys id of the last push, the fingerprint
  cleared when that push failed (a re-import then sends the record again);
* ``batches``: per answered bulk batch, its records, attempts (entity retry rounds included), and when
  it started and ended, for the HTML report's slowest batches and throughput over time
  (:mod:`pipeline.journal.batches`).

A *scope* names where records went: the target (API base URL, or a sandbox's state file) and the
external source id. The source id alone is not enough: every sandbox has the same demo source id.

It never stores tokens, secrets or record fields: the only personal data are the keys (Contact ID,
Account ID) and the API's error messages, which the reconciliation file needs. One writer at a time,
guaranteed by the lock of :mod:`pipeline.journal.lock`. WAL mode lets ``contacts-pipeline runs`` read
while a run writes.

The tables and their upgrades from older versions are in :mod:`pipeline.journal.schema`; the
before-images and reverts of version 4 in :mod:`pipeline.journal.images`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, RunError
from pipeline.files import utc_now_iso
from pipeline.journal.batches import insert_outcomes, read_batches
from pipeline.journal.records import BatchRecord, BatchTiming, Known, Recorded
from pipeline.journal.schema import MIGRATIONS, READABLE_VERSIONS, SCHEMA, SCHEMA_VERSION
from pipeline.outcomes import Outcome, Status

DEFAULT_JOURNAL = Path(".contacts-pipeline/journal.db")
# Readers (``runs``) may meet a writer mid-commit; this long they wait before giving up.
BUSY_TIMEOUT_MS = 5000

# Outcomes whose record now holds what was planned: UNCHANGED too, since --compare-live settles records
# that already held it (remembering them lets the next import skip them without reading).
_SENT = (Status.CREATED, Status.UPDATED, Status.UNCHANGED)


class RunState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunInfo:
    """One row of ``runs``, with the per-kind status counts of its recorded outcomes."""

    id: int
    input_path: str
    input_sha256: str
    options: dict[str, Any]
    dry_run: bool
    started_at: str
    ended_at: str | None
    state: RunState
    sessions: int
    counts: dict[str, Any] | None
    report_path: str | None
    error: str | None
    records: dict[str, dict[str, int]]

    @property
    def finished(self) -> bool:
        return self.state is RunState.COMPLETED


class Journal:
    """The SQLite file. Every write commits before the method returns."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise ConfigError(f"no journal at {self.path} (pass --journal to name another)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (``_write``), so nothing lingers uncommitted.
        # A push commits answered batches from a worker thread (importing/journal_settle.GroupCommit), so
        # the connection may change threads; ``_write`` lets one transaction at a time in.
        self._db = sqlite3.connect(
            self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
        self._writing = threading.RLock()
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed batch survives a power cut too, not only a killed process.
            self._db.execute("PRAGMA synchronous=FULL")
            version = self._prepare() if create else self._version()
        except (sqlite3.DatabaseError, ValueError) as err:
            self._db.close()
            raise ConfigError(f"{self.path} is not a usable journal: {err}") from err
        if version not in READABLE_VERSIONS:
            self._db.close()
            raise ConfigError(
                f"{self.path} is a journal of another version ({version or 'unknown'}, this "
                f"contacts-pipeline writes {SCHEMA_VERSION}); pass --journal to start a new one"
            )

    def _version(self) -> int | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row is not None else None

    def _prepare(self) -> int | None:
        """Create what is missing and upgrade an older journal; returns the schema version."""
        # executescript commits on its own; every statement in it is idempotent.
        self._db.executescript(SCHEMA)
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
            version = self._version()
            while version in MIGRATIONS:
                db.execute(MIGRATIONS[version])
                version += 1
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
        return version

    def claim(self, key: str, value: str, check: Callable[[str | None], None]) -> None:
        """Set ``meta[key]`` to ``value`` in one write transaction, once ``check`` (which may raise, and
        then nothing changes) has seen the value it replaces."""
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            check(row[0] if row is not None else None)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``), for the journal's other tables."""
        return self._write()

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query; none when a table is missing (an older journal opened read-only)."""
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._writing:
            yield from self._transaction()

    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise self._unwritable(err) from err
        try:
            yield self._db
        except sqlite3.Error as err:
            self._rollback()
            raise self._unwritable(err) from err
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            raise self._unwritable(err) from err

    def _rollback(self) -> None:
        # A failed COMMIT (a full disk) may already have ended the transaction: nothing left to undo.
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    def _unwritable(self, err: sqlite3.Error) -> RunError:
        """A journal that cannot take a write stops the run (exit 3), naming the file and the cause."""
        return RunError(
            f"the journal {self.path} could not be written ({err}); free space or fix its permissions, "
            "then go on with --resume: every batch committed before this point is kept"
        )

    # --- runs ---------------------------------------------------------------------------------------
    def start_run(
        self, input_path: str, input_sha256: str, options: Mapping[str, Any], *, dry_run: bool
    ) -> int:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO runs (input_path, input_sha256, options, dry_run, started_at, state) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (input_path, input_sha256, json.dumps(options, sort_keys=True), int(dry_run), utc_now_iso(),
                 RunState.RUNNING),
            )  # fmt: skip
            return int(cursor.lastrowid or 0)

    def reopen_run(self, run_id: int) -> int:
        """Mark a run running again for one more session; returns the session number."""
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = ?, ended_at = NULL, error = NULL, sessions = sessions + 1 "
                "WHERE id = ?",
                (RunState.RUNNING, run_id),
            )
            return int(db.execute("SELECT sessions FROM runs WHERE id = ?", (run_id,)).fetchone()[0])

    def finish_run(
        self,
        run_id: int,
        state: RunState,
        *,
        counts: Mapping[str, Any] | None = None,
        report_path: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = ?, ended_at = ?, counts = COALESCE(?, counts), "
                "report_path = COALESCE(?, report_path), error = ? WHERE id = ?",
                (state, utc_now_iso(), json.dumps(counts) if counts is not None else None, report_path, error,
                 run_id),
            )  # fmt: skip

    def settle_stale_runs(self) -> int:
        """Runs still marked running while we hold the lock died without saying so: call them interrupted.

        Only call with the lock held.
        """
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET state = ?, ended_at = COALESCE(ended_at, ?) WHERE state = ?",
                (RunState.INTERRUPTED, utc_now_iso(), RunState.RUNNING),
            )
            return cursor.rowcount

    def run(self, run_id: int) -> RunInfo | None:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._info(row) if row is not None else None

    def runs(self, limit: int | None = None) -> list[RunInfo]:
        """Runs, newest first."""
        sql = "SELECT * FROM runs ORDER BY id DESC" + (" LIMIT ?" if limit else "")
        rows = self._db.execute(sql, (limit,) if limit else ()).fetchall()
        return [self._info(row) for row in rows]

    def last_unfinished(self, input_path: str, input_sha256: str) -> RunInfo | None:
        """The newest run of this very file (path and content) that did not complete; dry runs excluded."""
        row = self._db.execute(
            "SELECT * FROM runs WHERE input_path = ? AND input_sha256 = ? AND state != ? AND dry_run = 0 "
            "ORDER BY id DESC LIMIT 1",
            (input_path, input_sha256, RunState.COMPLETED),
        ).fetchone()
        return self._info(row) if row is not None else None

    def _info(self, row: sqlite3.Row) -> RunInfo:
        return RunInfo(
            id=row["id"],
            input_path=row["input_path"],
            input_sha256=row["input_sha256"],
            options=json.loads(row["options"]),
            dry_run=bool(row["dry_run"]),
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            state=RunState(row["state"]),
            sessions=row["sessions"],
            counts=json.loads(row["counts"]) if row["counts"] else None,
            report_path=row["report_path"],
            error=row["error"],
            records=self.record_counts(row["id"]),
        )

    # --- outcomes -----------------------------------------------------------------------------------
    def record_counts(self, run_id: int) -> dict[str, dict[str, int]]:
        """``{kind: {status: records}}`` of what the run has recorded so far."""
        counts: dict[str, dict[str, int]] = {}
        rows = self._db.execute(
            "SELECT kind, status, COUNT(*) FROM outcomes WHERE run_id = ? GROUP BY kind, status", (run_id,)
        )
        for kind, status, n in rows:
            counts.setdefault(kind, {})[status] = n
        return counts

    def last_batch(self, run_id: int) -> int:
        row = self._db.execute(
            "SELECT COALESCE(MAX(batch), 0) FROM outcomes WHERE run_id = ?", (run_id,)
        ).fetchone()
        return int(row[0])

    def batches(self, run_id: int) -> int:
        """How many answered bulk batches the run has recorded."""
        row = self._db.execute(
            "SELECT COUNT(DISTINCT batch) FROM outcomes WHERE run_id = ? AND batch > 0", (run_id,)
        ).fetchone()
        return int(row[0])

    def batch_records(self, run_id: int) -> list[BatchRecord]:
        """The run's timed batches in batch order; none for a journal older than version 3."""
        return read_batches(self._db, run_id)

    def failures(self, run_id: int) -> list[tuple[str, str, str, str]]:
        """``(kind, key, error_code, error_message)`` of every recorded outcome with an error."""
        rows = self._db.execute(
            "SELECT kind, key, error_code, COALESCE(error_message, '') FROM outcomes "
            "WHERE run_id = ? AND error_code IS NOT NULL ORDER BY kind, key",
            (run_id,),
        )
        return [tuple(row) for row in rows]

    def recorded(self, run_id: int, kind: str) -> dict[str, Recorded]:
        rows = self._db.execute(
            "SELECT key, status, genesys_id, error_code, error_message FROM outcomes "
            "WHERE run_id = ? AND kind = ?",
            (run_id, kind),
        )
        return {key: Recorded(Status(status), gid, code, msg) for key, status, gid, code, msg in rows}

    def known(self, scope: str, kind: str) -> dict[str, Known]:
        rows = self._db.execute(
            "SELECT key, fingerprint, genesys_id FROM fingerprints WHERE scope = ? AND kind = ?",
            (scope, kind),
        )
        return {key: Known(fp, gid) for key, fp, gid in rows}

    def record(
        self,
        run_id: int,
        outcomes: Iterable[Outcome],
        *,
        batch: int,
        session: int,
        fingerprints: Mapping[tuple[str, str], str],
        scope: str | None,
        timing: BatchTiming | None = None,
    ) -> None:
        """Record one batch's outcomes in one transaction; with a ``scope`` also remember what was
        pushed (fingerprints). Dry runs pass ``scope=None``: they wrote nothing. A ``timing`` (answered
        batches) goes into ``batches``."""
        self.record_batches(
            run_id, [(list(outcomes), batch, timing)], session=session, fingerprints=fingerprints, scope=scope
        )

    def record_batches(
        self,
        run_id: int,
        batches: Sequence[tuple[list[Outcome], int, BatchTiming | None]],
        *,
        session: int,
        fingerprints: Mapping[tuple[str, str], str],
        scope: str | None,
    ) -> None:
        """Record several batches (outcomes, batch number, timing) in one transaction: one commit, and so
        one disk sync, for all of them, which is what lets a fast push keep its journal."""
        with self._write() as db:
            for outcomes, batch, timing in batches:
                insert_outcomes(db, run_id, outcomes, batch, session, fingerprints, timing)
                if scope is not None:
                    self._remember(db, run_id, outcomes, fingerprints, scope)

    @staticmethod
    def _remember(
        db: sqlite3.Connection,
        run_id: int,
        outcomes: list[Outcome],
        fingerprints: Mapping[tuple[str, str], str],
        scope: str,
    ) -> None:
        # One executemany per run of outcomes that need the same statement, in outcome order (so a key
        # met twice ends as it did statement by statement): a statement per record was most of the
        # journal's cost per batch.
        sql: str | None = None
        rows: list[tuple[Any, ...]] = []
        for o in outcomes:
            if o.status in _SENT and o.genesys_id is not None:
                step = _REMEMBER_SENT
                row: tuple[Any, ...] = (
                    scope, o.kind, o.key, fingerprints.get((o.kind, o.key)), o.genesys_id, run_id,
                )  # fmt: skip
            elif o.status is Status.DELETED:
                # Gone from the target: importing it again (from the .deleted.csv) must send it.
                step, row = _FORGET_DELETED, (scope, o.kind, o.key)
            elif o.status is Status.FAILED:
                # The record may or may not have been written: the next import must send it again.
                step, row = _FORGET_FAILED, (run_id, scope, o.kind, o.key)
            else:
                continue
            if step != sql:
                if sql is not None:
                    db.executemany(sql, rows)
                sql, rows = step, []
            rows.append(row)
        if sql is not None:
            db.executemany(sql, rows)


_REMEMBER_SENT = (
    "INSERT OR REPLACE INTO fingerprints (scope, kind, key, fingerprint, genesys_id, run_id) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_FORGET_DELETED = "DELETE FROM fingerprints WHERE scope = ? AND kind = ? AND key = ?"
_FORGET_FAILED = (
    "UPDATE fingerprints SET fingerprint = NULL, run_id = ? WHERE scope = ? AND kind = ? AND key = ?"
)
