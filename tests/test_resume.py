"""Resume after a crash: a real import process killed mid-run, then ``--resume``, against a sandbox.

The sandbox runs in this process (with a state file, as ``--state`` would give), so the test can see
what reached it; the import runs as a child process so it can be SIGKILLed like a real crash.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_support import (
    SentRecorder,
    answered_batches,
    external_ids,
    finish,
    import_args,
    journal_query,
    make_rows,
    read_report,
    record_sent,
    run_started,
    start_import,
    wait_until,
    write_rows,
)

from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

CONTACTS = 300
ACCOUNTS = 60  # 6 organization batches, then 30 contact batches
# Slow enough that every kill point below is reached while the run is still going.
LATENCY_MS = 60


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    config = SandboxConfig(rate_limit=0, latency_ms=LATENCY_MS, state_path=tmp_path / "sandbox.db")
    with run_sandbox(config) as sandbox:
        yield sandbox


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> SentRecorder:
    return record_sent(monkeypatch)


def _answered_keys(journal: Path) -> set[tuple[str, str]]:
    rows = journal_query(journal, "SELECT kind, key FROM outcomes WHERE batch > 0")
    return {(kind, key) for kind, key in rows}


def _check_complete(sb: Sandbox, report: Path, answered: set[tuple[str, str]]) -> None:
    rows = read_report(report)
    assert [int(r["source_row"]) for r in rows] == list(range(2, CONTACTS + 2))
    # The sandbox started empty. A record answered before the kill keeps that answer ("created"), not
    # "unchanged"; one in flight at the kill may have been written, so its resend may say "updated".
    for row in rows:
        for kind, key in (("organization", row["Account ID"]), ("contact", row["Contact ID"])):
            status = row[f"{kind}_status"]
            expected = {"created"} if (kind, key) in answered else {"created", "updated"}
            assert status in expected, (kind, key, status)
    contacts, organizations = external_ids(sb, "contacts"), external_ids(sb, "organizations")
    assert len(contacts) == CONTACTS
    assert set(contacts.values()) == {1}
    assert len(organizations) == ACCOUNTS
    assert set(organizations.values()) == {1}
    org_by_account = {
        ext["value"]: record["id"]
        for record in sb.store.all("organizations")
        for ext in record["externalIds"]
    }
    for row in rows:
        # The report's organization id is the stored organization of that Account ID, and the stored
        # contact links to it, whichever session wrote which.
        assert row["genesys_organization_id"] == org_by_account[row["Account ID"]]
        contact = sb.store.get("contacts", row["genesys_contact_id"])
        assert contact is not None
        assert contact["externalOrganization"]["id"] == row["genesys_organization_id"]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [0, 9, 24], ids=lambda n: f"after-{n}-batches")
def test_killed_import_resumes_without_resending_answered_batches(
    tmp_path: Path, sb: Sandbox, sent: SentRecorder, kill_after: int
) -> None:
    """A SIGKILLed import resumed with --resume ends with one outcome per row, one record per key, and
    sends nothing that was answered before the kill."""
    csv_path = write_rows(tmp_path / "contacts.csv", make_rows(CONTACTS, ACCOUNTS))
    journal, report = tmp_path / "journal.db", tmp_path / "out" / "reconciliation.csv"
    args = import_args(sb, csv_path, journal, report, "--concurrency", "2")

    first = start_import(sb, *args, cwd=tmp_path)
    wait_until(
        lambda: run_started(journal) and answered_batches(journal) >= kill_after,
        first,
        f"{kill_after} answered batches",
    )
    first.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no chance to clean up either way
    finish(first)
    assert first.returncode not in (0, None)
    answered = _answered_keys(journal)
    assert len(answered) >= kill_after  # batches hold 1-10 records
    assert not report.exists()

    sent.phase = "resume"
    sb.configure(latency_ms=0)
    code, stdout, stderr = finish(
        start_import(sb, *import_args(sb, csv_path, journal, report, "--resume"), cwd=tmp_path)
    )
    assert code == 0, stderr

    resent = sent.keys("resume") & answered
    assert resent == set()
    # Everything the first session did not get an answer for was sent by the resumed one.
    all_keys = {("organization", f"A-{a:04d}") for a in range(ACCOUNTS)}
    all_keys |= {("contact", f"C-{c:05d}") for c in range(CONTACTS)}
    assert sent.keys("resume") == all_keys - answered
    _check_complete(sb, report, answered)
    state, sessions = journal_query(journal, "SELECT state, sessions FROM runs")[0]
    assert (state, sessions) == ("completed", 2)
    assert "Run 1 recorded" in stdout


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="Windows cannot send Ctrl-C to one child process alone")
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path: Path, sb: Sandbox, sent: SentRecorder) -> None:
    """SIGINT ends the import with exit 130, the run marked interrupted and the resume command printed;
    resuming by run id finishes the file."""
    csv_path = write_rows(tmp_path / "contacts.csv", make_rows(CONTACTS, ACCOUNTS))
    journal, report = tmp_path / "journal.db", tmp_path / "out" / "reconciliation.csv"
    first = start_import(sb, *import_args(sb, csv_path, journal, report, "--concurrency", "2"), cwd=tmp_path)
    wait_until(lambda: answered_batches(journal) >= 3, first, "3 answered batches")
    first.send_signal(signal.SIGINT)
    code, _, stderr = finish(first)

    assert code == 130, stderr
    assert f"import {csv_path} --resume 1 --journal {journal}" in stderr
    assert "Traceback" not in stderr
    assert journal_query(journal, "SELECT state FROM runs") == [("interrupted",)]
    answered = _answered_keys(journal)

    sent.phase = "resume"
    sb.configure(latency_ms=0)
    resume = import_args(sb, csv_path, journal, report, "--resume", "1")
    code, _, stderr = finish(start_import(sb, *resume, cwd=tmp_path))
    assert code == 0, stderr
    assert sent.keys("resume") & answered == set()
    _check_complete(sb, report, answered)


@pytest.mark.slow
def test_second_concurrent_import_is_refused_naming_the_lock(tmp_path: Path, sb: Sandbox) -> None:
    """While one import runs, a second on the same journal exits 3 naming the lock, and the first
    finishes unharmed."""
    csv_path = write_rows(tmp_path / "contacts.csv", make_rows(CONTACTS, ACCOUNTS))
    journal = tmp_path / "journal.db"
    first = start_import(
        sb, *import_args(sb, csv_path, journal, tmp_path / "first.csv", "--concurrency", "1"), cwd=tmp_path
    )
    wait_until(lambda: run_started(journal), first, "the first run to start")

    second = start_import(sb, *import_args(sb, csv_path, journal, tmp_path / "second.csv"), cwd=tmp_path)
    code, _, stderr = finish(second)
    assert code == 3
    assert f"{journal}.lock" in stderr
    assert "another import" in stderr

    code, _, stderr = finish(first)
    assert code == 0, stderr
    assert journal_query(journal, "SELECT id, state FROM runs") == [(1, "completed")]
    assert not (tmp_path / "second.csv").exists()
