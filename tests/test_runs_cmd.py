"""``contacts-pipeline runs`` and ``runs show``: what a journal holds, read by the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.files import sha256_file as file_checksum
from pipeline.journal.lock import journal_lock
from pipeline.journal.store import Journal, RunState
from pipeline.outcomes import Outcome, Status


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    """A journal with a completed run (report written) and a run whose process died mid-way."""
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("Contact ID\nC-1\n", encoding="utf-8")
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        done = journal.start_run(
            str(csv_file), file_checksum(csv_file), {"import": {"full": False}}, dry_run=False
        )
        created = [
            Outcome("contact", "C-1", Status.CREATED, (2,), "g-1"),
            Outcome("organization", "A-1", Status.CREATED, (2,), "o-1"),
        ]
        journal.record(done, created, batch=1, session=1, fingerprints={}, scope="s")
        counts = {"rows": {"total": 1, "succeeded": 1, "not_succeeded": 0}}
        journal.finish_run(done, RunState.COMPLETED, counts=counts, report_path="/reports/reconciliation.csv")
        killed = journal.start_run(str(csv_file), file_checksum(csv_file), {}, dry_run=False)
        failed = Outcome("contact", "C-1", Status.FAILED, (2,), None, "x", "boom")
        journal.record(killed, [failed], batch=1, session=1, fingerprints={}, scope="s")
    return path


def test_runs_lists_each_run_with_state_input_and_counts(journal_path: Path) -> None:
    """The listing shows every run newest first with its state, row counts and record counts."""
    result = CliRunner().invoke(cli, ["runs", "--journal", str(journal_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:3] == ["2", lines[1].split()[1], "interrupted"]  # nobody holds the lock
    assert "completed" in lines[3]
    assert "1/1 ok" in lines[3]
    assert "contacts.csv" in lines[3]
    assert "organizations: 1 created; contacts: 1 created" in lines[4]
    assert "contacts: 1 failed" in lines[2]


def test_a_run_whose_lock_is_held_is_shown_running(journal_path: Path) -> None:
    """While an import holds the journal's lock its run is listed as running, not interrupted."""
    with journal_lock(journal_path):
        result = CliRunner().invoke(cli, ["runs", "--journal", str(journal_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split()[2] == "running"


def test_runs_show_prints_summary_and_report_path(journal_path: Path) -> None:
    """``runs show`` prints one run's state, counts and where its reconciliation file is."""
    result = CliRunner().invoke(cli, ["runs", "--journal", str(journal_path), "show", "1"])
    assert result.exit_code == 0, result.output
    assert "completed" in result.output
    assert "report       /reports/reconciliation.csv" in result.output
    assert "contacts     1 created" in result.output
    assert "resume with" not in result.output


def test_runs_show_of_an_unfinished_run_says_how_to_resume(journal_path: Path) -> None:
    """An unfinished run's summary ends with the command that resumes it (journal given after show)."""
    result = CliRunner().invoke(cli, ["runs", "show", "2", "--journal", str(journal_path)])
    assert result.exit_code == 0, result.output
    assert "(not written yet)" in result.output
    assert f"--resume 2 --journal {journal_path}" in result.output


def test_runs_show_of_an_unknown_run_fails_clearly(journal_path: Path) -> None:
    """Asking for a run the journal does not have exits 1 and names the journal."""
    result = CliRunner().invoke(cli, ["runs", "--journal", str(journal_path), "show", "42"])
    assert result.exit_code == 1
    assert f"no run 42 in {journal_path}" in result.output


def test_runs_without_a_journal_is_a_usage_error(tmp_path: Path) -> None:
    """Listing a journal that does not exist exits 2 and creates nothing."""
    missing = tmp_path / "nowhere" / "journal.db"
    result = CliRunner().invoke(cli, ["runs", "--journal", str(missing)])
    assert result.exit_code == 2
    assert f"no journal at {missing}" in result.output
    assert not missing.parent.exists()
