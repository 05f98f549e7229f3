"""The journal's SQLite store, its lock, a run's life in it, and the pure skip decisions."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, RunError, RunInterruptedError, RunLockedError
from pipeline.files import sha256_file as file_checksum
from pipeline.importing.plan import Operation
from pipeline.importing.settle import reuse_recorded, skip_unchanged
from pipeline.journal.ledger import RunLedger
from pipeline.journal.lock import journal_lock, lock_is_free
from pipeline.journal.records import Known, Recorded
from pipeline.journal.run import journaled_run
from pipeline.journal.store import Journal, RunState
from pipeline.outcomes import Outcome, Status

SOURCE = "source-1"


def _op(key: str, kind: str = "contact", org: str | None = None, title: str = "Buyer") -> Operation:
    body = {"id": key, "action": "Upsert", kind: {"title": title}}
    return Operation(kind, key, body, (2,), organization_key=org)  # type: ignore[arg-type]


def _ok(key: str, kind: str = "contact", gid: str = "g-1", status: Status = Status.CREATED) -> Outcome:
    return Outcome(kind, key, status, (2,), genesys_id=gid)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "j" / "journal.db") as opened:
        yield opened


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.csv"
    path.write_text("Contact ID\nC-1\n", encoding="utf-8")
    return path


def test_journal_uses_wal_and_creates_its_folder(journal: Journal) -> None:
    """A new journal file is created with its parent folder and runs in WAL mode."""
    assert journal.path.exists()
    mode = sqlite3.connect(journal.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_recorded_batch_is_visible_to_another_connection_at_once(journal: Journal) -> None:
    """A batch's outcomes are committed when record() returns, so a crash right after loses nothing."""
    run_id = journal.start_run("/in.csv", "abc", {}, dry_run=False)
    journal.record(
        run_id, [_ok("C-1")], batch=1, session=1, fingerprints={("contact", "C-1"): "fp"}, scope=SOURCE
    )
    other = sqlite3.connect(journal.path)
    assert other.execute("SELECT kind, key, status, fingerprint FROM outcomes").fetchall() == [
        ("contact", "C-1", "created", "fp")
    ]


def test_successful_push_is_remembered_and_a_failure_forgets_its_fingerprint(journal: Journal) -> None:
    """Fingerprint and id are kept after a success; a later failure clears the fingerprint (send again)."""
    run_id = journal.start_run("/in.csv", "abc", {}, dry_run=False)
    fps = {("organization", "A-1"): "fp-a", ("contact", "C-1"): "fp-c"}
    journal.record(
        run_id, [_ok("A-1", "organization", "org-1"), _ok("C-1")], batch=1, session=1, fingerprints=fps,
        scope=SOURCE,
    )  # fmt: skip
    assert journal.known(SOURCE, "contact") == {"C-1": Known("fp-c", "g-1")}
    assert journal.known(SOURCE, "organization") == {"A-1": Known("fp-a", "org-1")}
    assert journal.known("other-source", "contact") == {}

    failed = Outcome("contact", "C-1", Status.FAILED, (2,), error_code="x", error_message="boom")
    journal.record(run_id, [failed], batch=2, session=1, fingerprints=fps, scope=SOURCE)
    assert journal.known(SOURCE, "contact") == {"C-1": Known(None, "g-1")}


def test_dry_run_outcomes_are_recorded_without_remembering_fingerprints(journal: Journal) -> None:
    """A dry run writes nothing to Genesys, so the journal learns no fingerprint or account from it."""
    run_id = journal.start_run("/in.csv", "abc", {}, dry_run=True)
    ledger = RunLedger(journal, run_id, 1, dry_run=True, resuming=False)
    ledger.record([_ok("A-1", "organization")], {("organization", "A-1"): "fp"}, SOURCE)
    assert journal.record_counts(run_id) == {"organization": {"created": 1}}
    assert journal.known(SOURCE, "organization") == {}


def test_ledger_numbers_batches_across_sessions(journal: Journal) -> None:
    """A resumed session's batches continue the numbering, and settled outcomes get batch 0."""
    run_id = journal.start_run("/in.csv", "abc", {}, dry_run=False)
    first = RunLedger(journal, run_id, 1, dry_run=False, resuming=False)
    first.record([_ok("C-1")], {}, SOURCE)
    first.record([_ok("C-2")], {}, SOURCE)
    second = RunLedger(journal, run_id, journal.reopen_run(run_id), dry_run=False, resuming=True)
    second.record([_ok("C-3", status=Status.UNCHANGED)], {}, SOURCE, answered=False)
    second.record([_ok("C-4")], {}, SOURCE)
    rows = sqlite3.connect(journal.path).execute("SELECT key, batch, session FROM outcomes ORDER BY key")
    assert rows.fetchall() == [("C-1", 1, 1), ("C-2", 2, 1), ("C-3", 0, 2), ("C-4", 3, 2)]
    assert journal.batches(run_id) == 3
    assert set(second.recorded("contact")) == {"C-1", "C-2", "C-3", "C-4"}


def test_second_lock_holder_is_refused_naming_the_lock(tmp_path: Path) -> None:
    """While one holder has the journal lock another gets RunLockedError naming the lock file; after
    release the lock is free again."""
    journal_path = tmp_path / "journal.db"
    with journal_lock(journal_path):
        with pytest.raises(RunLockedError, match=r"journal\.db\.lock"), journal_lock(journal_path, wait_s=0):
            pass  # pragma: no cover - the lock is refused before the block
        assert not lock_is_free(journal_path)
    assert lock_is_free(journal_path)


def test_file_checksum_is_sha256_of_the_bytes(csv_file: Path) -> None:
    """The input checksum is the sha256 of the file's bytes."""
    assert file_checksum(csv_file) == hashlib.sha256(csv_file.read_bytes()).hexdigest()


def test_completed_run_records_counts_and_report(tmp_path: Path, csv_file: Path) -> None:
    """A block that ends normally leaves the run completed with its counts and report path."""
    journal_path = tmp_path / "journal.db"
    with journaled_run(journal_path, csv_file, options={"a": 1}, dry_run=False) as run:
        run.counts = {"rows": {"total": 1, "succeeded": 1}}
        run.report_path = "/out/r.csv"
    with Journal(journal_path) as journal:
        info = journal.run(run.run_id)
    assert info is not None
    assert (info.state, info.counts, info.report_path) == (RunState.COMPLETED, run.counts, "/out/r.csv")
    assert info.options == {"a": 1}
    assert info.input_path == str(csv_file.resolve())


def test_interrupted_run_says_how_to_resume(tmp_path: Path, csv_file: Path) -> None:
    """Ctrl-C inside the run marks it interrupted and raises an error (exit 130) with the resume command."""
    journal_path = tmp_path / "journal.db"
    with (
        pytest.raises(RunInterruptedError) as caught,
        journaled_run(journal_path, csv_file, options={}, dry_run=False),
    ):
        raise KeyboardInterrupt
    assert caught.value.exit_code == 130
    assert f"--resume 1 --journal {journal_path}" in str(caught.value)
    with Journal(journal_path) as journal:
        assert journal.run(1).state is RunState.INTERRUPTED  # type: ignore[union-attr]


def test_failing_run_is_marked_failed_and_the_error_kept(tmp_path: Path, csv_file: Path) -> None:
    """Any other error leaves the run failed with the error's message, and propagates."""
    journal_path = tmp_path / "journal.db"
    with pytest.raises(ConfigError), journaled_run(journal_path, csv_file, options={}, dry_run=False):
        raise ConfigError("schema missing")
    with Journal(journal_path) as journal:
        info = journal.run(1)
    assert info is not None
    assert (info.state, info.error) == (RunState.FAILED, "schema missing")


def test_resume_picks_the_newest_unfinished_run_of_the_same_file(tmp_path: Path, csv_file: Path) -> None:
    """``resume="last"`` continues the newest unfinished run of this file with its recorded options."""
    journal_path = tmp_path / "journal.db"
    for marker in ("old", "new"):
        with (
            pytest.raises(RunInterruptedError),
            journaled_run(journal_path, csv_file, options={"m": marker}, dry_run=False),
        ):
            raise KeyboardInterrupt
    with journaled_run(journal_path, csv_file, options={"m": "ignored"}, dry_run=False, resume="last") as run:
        assert (run.run_id, run.options, run.resumed) == (2, {"m": "new"}, True)
        assert run.ledger.session == 2


def test_killed_run_is_settled_as_interrupted_by_the_next_lock_holder(tmp_path: Path, csv_file: Path) -> None:
    """A run left "running" by a dead process is called interrupted, and can be resumed."""
    journal_path = tmp_path / "journal.db"
    with Journal(journal_path) as journal:
        journal.start_run(str(csv_file.resolve()), file_checksum(csv_file), {}, dry_run=False)
    with journaled_run(journal_path, csv_file, options={}, dry_run=False, resume=1) as run:
        assert run.resumed
    with Journal(journal_path) as journal:
        info = journal.run(1)
    assert info is not None
    assert (info.state, info.sessions) == (RunState.COMPLETED, 2)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("none", "nothing to resume"),
        ("completed", "already completed"),
        ("changed", "other content"),
        ("missing", "no run 9"),
    ],
)
def test_resume_refuses_runs_it_cannot_continue(
    tmp_path: Path, csv_file: Path, setup: str, message: str
) -> None:
    """Resuming nothing, a completed run, a run of changed file content or an unknown run: usage error."""
    journal_path = tmp_path / "journal.db"
    resume: int | str = 9 if setup == "missing" else "last" if setup == "none" else 1
    if setup in ("completed", "changed"):
        with journaled_run(journal_path, csv_file, options={}, dry_run=False):
            pass
    if setup == "changed":
        with Journal(journal_path) as journal:
            journal.finish_run(1, RunState.INTERRUPTED)
        csv_file.write_text("Contact ID\nC-2\n", encoding="utf-8")
    run = journaled_run(journal_path, csv_file, options={}, dry_run=False, resume=resume)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message), run:
        pass  # pragma: no cover


def test_only_records_equal_to_a_successful_push_with_an_id_are_unchanged() -> None:
    """Equal fingerprint and a stored id -> unchanged with that id; failed last push, no id, new -> sent."""
    ops = [_op(k) for k in ("same", "changed", "failed-last", "no-id", "new")]
    fps = {op.key: "fp" for op in ops}
    known = {
        "same": Known("fp", "g-same"),
        "changed": Known("old", "g-changed"),
        "failed-last": Known(None, "g-failed"),
        "no-id": Known("fp", None),
    }
    todo, unchanged = skip_unchanged(ops, known, fps)
    assert [op.key for op in todo] == ["changed", "failed-last", "no-id", "new"]
    assert [(o.key, o.status, o.genesys_id) for o in unchanged] == [("same", Status.UNCHANGED, "g-same")]


def test_resume_reuses_recorded_outcomes_with_the_current_rows() -> None:
    """Recorded outcomes are reused for their keys (with this file's source rows); the rest stay to do."""
    ops = [Operation("contact", "C-1", {}, (7, 9), "A-1"), _op("C-2")]
    recorded = {"C-1": Recorded(Status.FAILED, None, "bad", "no")}
    todo, reused = reuse_recorded(ops, recorded)
    assert [op.key for op in todo] == ["C-2"]
    assert reused == [Outcome("contact", "C-1", Status.FAILED, (7, 9), None, "bad", "no", "A-1")]


def test_a_file_that_is_not_a_journal_is_a_usage_error(tmp_path: Path) -> None:
    """Pointing --journal at some other file fails with a one-line ConfigError, not a traceback."""
    other = tmp_path / "notes.db"
    other.write_bytes(b"not a database at all, just text" * 10)
    with pytest.raises(ConfigError, match="not a usable journal"):
        Journal(other, create=False)


def test_a_journal_that_runs_out_of_space_stops_the_run_naming_the_file(journal: Journal) -> None:
    """A full disk under the journal is a one-line run error naming the journal, not a raw SQLite error."""
    run = journal.start_run("in.csv", "0" * 64, {}, dry_run=False)
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own page cap gives the same SQLITE_FULL a full disk does.
    journal._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(RunError, match=r"the journal .*journal\.db could not be written \(database or disk"):
        journal.start_run("in-2.csv", "0" * 64, {"padding": "x" * 200_000}, dry_run=False)
    assert journal.run(run) is not None, "what was committed before the failure is still there"
