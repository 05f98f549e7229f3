"""The push client's throughput machinery: one connection per request in flight, grouped journal commits."""

from __future__ import annotations

import asyncio
import csv
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import sandbox_settings

from pipeline.errors import RunError
from pipeline.genesys.client import GenesysClient
from pipeline.importing.job import ImportOptions, import_file
from pipeline.importing.journal_settle import GroupCommit, Settle
from pipeline.journal.records import BatchTiming
from pipeline.journal.store import Journal
from pipeline.outcomes import Outcome, Status
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

API = "/api/v2/externalcontacts"
OPTIONS = ImportOptions(create_source=True)
BULK_ROUTES = (f"POST {API}/bulk/contacts/enrich", f"POST {API}/bulk/organizations/enrich")


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def _contacts_file(path: Path, contacts: int, per_account: int = 5) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["Contact ID", "Contact First Name", "Contact Last Name", "Account ID", "Account Name"]
        )
        for i in range(contacts):
            writer.writerow(
                [f"C-{i}", f"First{i}", f"Last{i}", f"A-{i // per_account}", f"Org {i // per_account}"]
            )
    return path


def test_concurrent_requests_share_as_many_connections_as_the_client_allows(sb: Sandbox) -> None:
    """Twelve requests at once over a client allowed three connections all succeed over three sockets
    (plus the one the token request used), never one socket per request."""

    async def run() -> list[int]:
        async with GenesysClient(sandbox_settings(sb, max_connections=3)) as client:
            responses = await asyncio.gather(
                *(client.request("GET", f"{API}/externalsources") for _ in range(12))
            )
        return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 12
    assert sb.stats.requests[f"GET {API}/externalsources"] == 12
    assert 2 <= sb.stats.connections <= 3 + 1


def test_an_import_opens_no_more_connections_than_requests_it_keeps_in_flight(
    sb: Sandbox, tmp_path: Path
) -> None:
    """With ``concurrency=3`` the import's client holds at most three API connections (and one for its
    token), and every record reaches the sandbox."""
    path = _contacts_file(tmp_path / "in.csv", 200)
    options = ImportOptions(create_source=True, concurrency=3)
    result = import_file(path, sandbox_settings(sb), options, report_path=tmp_path / "out.csv")
    assert sb.store.count("contacts") == 200
    assert sb.store.count("organizations") == 40
    assert result.summary.contacts == {"created": 200}
    assert sb.stats.connections <= 3 + 1


def test_every_answered_batch_is_journaled_once_with_its_own_number(sb: Sandbox, tmp_path: Path) -> None:
    """Batches that finish together share a commit, yet the journal holds one numbered batch per bulk
    request the sandbox answered and one outcome per record it stored."""
    path = _contacts_file(tmp_path / "in.csv", 400, per_account=4)
    journal_path = tmp_path / "journal.db"
    options = ImportOptions(create_source=True, concurrency=16)
    import_file(path, sandbox_settings(sb), options, report_path=tmp_path / "out.csv", journal=journal_path)
    bulk_requests = sum(sb.stats.requests.get(route, 0) for route in BULK_ROUTES)
    with Journal(journal_path, create=False) as journal:
        run_id = journal.runs()[0].id
        batches = journal.batch_records(run_id)
        contacts = journal.recorded(run_id, "contact")
        organizations = journal.recorded(run_id, "organization")
    assert sorted(b.batch for b in batches) == list(range(1, bulk_requests + 1))
    assert sum(b.records for b in batches) == 400 + 100
    stored_ids = {c["id"] for c in sb.store.all("contacts")}
    assert {r.genesys_id for r in contacts.values()} == stored_ids
    assert len(organizations) == sb.store.count("organizations") == 100


class _FailingLedger:
    """A ledger whose disk is full: every commit fails."""

    def record_answered(self, *_: object) -> None:
        raise RunError("the journal journal.db could not be written (database or disk is full)")


def test_a_failed_group_commit_fails_every_batch_that_waited_on_it() -> None:
    """When the commit shared by several batches fails, each of them gets the journal's error, and none
    counts as done."""
    settle = Settle(_FailingLedger(), scope=None, full=False)  # type: ignore[arg-type]
    commits = GroupCommit(settle)
    timing = BatchTiming("2026-01-01T00:00:00.000+00:00", "2026-01-01T00:00:01.000+00:00", 1.0, 1)

    async def run() -> list[BaseException | None]:
        batches = [[Outcome("contact", f"C-{i}", Status.CREATED, (i + 2,))] for i in range(3)]
        return await asyncio.gather(*(commits.record(b, timing) for b in batches), return_exceptions=True)

    errors = asyncio.run(run())
    assert [type(e) for e in errors] == [RunError] * 3


class _SlowDiskLedger:
    """A ledger whose commit waits until the test lets it finish, noting each commit's batches and thread."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.commits: list[tuple[list[str], int]] = []

    def record_answered(self, batches: list[tuple[list[Outcome], object]], *_: object) -> None:
        self.started.set()
        self.release.wait(timeout=30)  # a commit in the loop thread would block the test, not hang it
        self.commits.append(([o.key for outcomes, _ in batches for o in outcomes], threading.get_ident()))


def test_a_commit_waits_for_the_disk_in_a_worker_thread_while_the_event_loop_goes_on() -> None:
    """While one commit waits for the disk, the event loop still runs and the batches answered meanwhile
    share the next commit; each batch is done only once its own commit is."""
    ledger = _SlowDiskLedger()
    commits = GroupCommit(Settle(ledger, scope=None, full=False))  # type: ignore[arg-type]
    timing = BatchTiming("2026-01-01T00:00:00.000+00:00", "2026-01-01T00:00:01.000+00:00", 1.0, 1)

    def batch(key: str) -> list[Outcome]:
        return [Outcome("contact", key, Status.CREATED, (2,))]

    async def run() -> list[bool]:
        first = asyncio.create_task(commits.record(batch("C-1"), timing))
        # The loop is free while the commit waits: this await returns before the commit may finish.
        await asyncio.to_thread(ledger.started.wait)
        later = [asyncio.create_task(commits.record(batch(k), timing)) for k in ("C-2", "C-3")]
        await asyncio.sleep(0)
        done_before_release = [first.done(), *(t.done() for t in later)]
        ledger.release.set()
        await asyncio.gather(first, *later)
        return done_before_release

    loop_thread = threading.get_ident()
    assert asyncio.run(run()) == [False, False, False]
    assert [keys for keys, _ in ledger.commits] == [["C-1"], ["C-2", "C-3"]]
    assert all(thread != loop_thread for _, thread in ledger.commits)
