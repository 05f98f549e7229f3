"""The journal's lock: one writer per journal whatever path names it, and a `runs` probe that never
makes an import fail."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.errors import RunLockedError
from pipeline.journal.lock import ACQUIRE_WAIT_S, claim_database, journal_lock, lock_is_free, lock_path
from pipeline.journal.run import journaled_run
from pipeline.journal.schema import SCHEMA_VERSION
from pipeline.journal.store import Journal

# The version-1 layout, with the `accounts` table that nothing read, as an older release left it.
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL, options TEXT NOT NULL, dry_run INTEGER NOT NULL, started_at TEXT NOT NULL,
    ended_at TEXT, state TEXT NOT NULL, sessions INTEGER NOT NULL DEFAULT 1, counts TEXT, report_path TEXT,
    error TEXT);
CREATE TABLE outcomes (run_id INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,
    genesys_id TEXT, error_code TEXT, error_message TEXT, fingerprint TEXT, batch INTEGER NOT NULL,
    session INTEGER NOT NULL, PRIMARY KEY (run_id, kind, key));
CREATE TABLE accounts (scope TEXT NOT NULL, account_id TEXT NOT NULL, organization_id TEXT NOT NULL,
    PRIMARY KEY (scope, account_id));
CREATE TABLE fingerprints (scope TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT,
    genesys_id TEXT, run_id INTEGER NOT NULL, PRIMARY KEY (scope, kind, key));
INSERT INTO runs (input_path, input_sha256, options, dry_run, started_at, state)
    VALUES ('/in.csv', 'abc', '{}', 0, '2026-01-01T00:00:00+00:00', 'completed');
"""


def _aliases(tmp_path: Path, journal: Path) -> list[Path]:
    """Two other names of ``journal``: a symlink to it and ``x/../`` relative to ``tmp_path`` (the cwd)."""
    (tmp_path / "x").mkdir()
    link = tmp_path / "link-to-journal.db"
    try:
        link.symlink_to(journal)
    except OSError:  # pragma: no cover - Windows without the symlink privilege
        pytest.skip("this account may not create symlinks")
    return [link, Path("x") / ".." / journal.name]


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.csv"
    path.write_text("Contact ID,Contact First Name\nC-1,Ann\n", encoding="utf-8")
    return path


def test_every_path_to_one_journal_names_one_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A symlink and a relative alias of a journal lead to the lock file beside its real path."""
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "journal.db"
    Journal(journal).close()
    for alias in _aliases(tmp_path, journal):
        assert lock_path(alias) == lock_path(journal) == journal.resolve().with_name("journal.db.lock")


def test_an_import_through_another_path_to_a_locked_journal_exits_3(
    tmp_path: Path, csv_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a run holds a journal, imports naming it by a symlink or ``x/../`` are refused (exit 3)."""
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "journal.db"
    with journaled_run(journal, csv_file, options={}, dry_run=False):
        for alias in _aliases(tmp_path, journal):
            args = ["import", str(csv_file), "--sandbox", "--journal", str(alias), "--report", "r.csv"]
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 3, result.output
            assert "another import is using the journal" in result.output
            assert str(lock_path(journal)) in result.output.replace("\n", "")
    assert not (tmp_path / "r.csv").exists()


def test_a_writer_through_an_unrelated_lock_file_is_refused_by_the_database(tmp_path: Path) -> None:
    """The journal records its writer's lock file; a writer holding another lock file is refused while
    the recorded one is held, and admitted once it is free."""
    journal_path = tmp_path / "journal.db"
    with Journal(journal_path) as first, journal_lock(journal_path) as first_lock:
        claim_database(first, first_lock)
        with (
            Journal(journal_path) as second,
            journal_lock(tmp_path / "elsewhere.db") as other_lock,
            pytest.raises(RunLockedError, match="through another path"),
        ):
            claim_database(second, other_lock)
    with Journal(journal_path) as second, journal_lock(tmp_path / "elsewhere.db") as other_lock:
        claim_database(second, other_lock)


def test_an_import_waits_out_a_runs_probe_instead_of_failing(tmp_path: Path) -> None:
    """A lock held for a moment (as `runs` does to probe it) delays an import's acquire, never refuses it."""
    journal_path = tmp_path / "journal.db"
    taken, release = threading.Event(), threading.Event()

    def probe_holder() -> None:
        with journal_lock(journal_path, wait_s=0):
            taken.set()
            release.wait(ACQUIRE_WAIT_S)

    holder = threading.Thread(target=probe_holder)
    holder.start()
    assert taken.wait(ACQUIRE_WAIT_S)
    threading.Timer(ACQUIRE_WAIT_S / 5, release.set).start()
    with journal_lock(journal_path):
        assert not lock_is_free(journal_path)
    holder.join()


def test_the_probe_never_waits_for_a_held_lock(tmp_path: Path) -> None:
    """`lock_is_free` answers at once while a run holds the lock."""
    journal_path = tmp_path / "journal.db"
    with journal_lock(journal_path):
        started = time.monotonic()
        assert not lock_is_free(journal_path)
        assert time.monotonic() - started < ACQUIRE_WAIT_S / 2


def test_a_version_1_journal_is_read_as_it_is_and_upgraded_by_a_writer(tmp_path: Path) -> None:
    """A journal from before the `accounts` table was dropped opens for `runs`, and the next writer drops
    the table and marks the journal with the current version, keeping its runs."""
    journal_path = tmp_path / "journal.db"
    with sqlite3.connect(journal_path) as db:
        db.executescript(V1_SCHEMA)
    with Journal(journal_path, create=False) as reader:
        assert [run.id for run in reader.runs()] == [1]
    with Journal(journal_path) as writer:
        assert [run.id for run in writer.runs()] == [1]
    db = sqlite3.connect(journal_path)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    db.close()
    assert "accounts" not in tables
    assert int(version) == SCHEMA_VERSION
