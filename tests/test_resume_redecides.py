"""A resume re-decides what depended on something it changed: contacts skipped because their organization
failed are sent again once a resumed run writes that organization.

The sandbox runs in this process over real HTTP, so the checks read what it really stored, not only our
report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from journal_support import external_ids, journal_query, make_rows, read_report, write_rows
from sandbox_support import sandbox_settings

from pipeline.errors import RunInterruptedError
from pipeline.importing import push_file
from pipeline.importing.job import ImportOptions, import_file
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

CONTACTS = 120
ACCOUNTS = 60  # 6 organization batches: at a fault rate of 0.5 some fail, some get through
OPTIONS = ImportOptions(create_source=True, concurrency=2)


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0, state_path=tmp_path / "sandbox.db")) as sandbox:
        yield sandbox


@dataclass
class _Weather:
    """Faults per phase of the push: organization batches meet 5xx answers at ``organization_faults``,
    contact batches none; with ``interrupt`` the run is interrupted (Ctrl-C) as the first contact batches
    would go out, after the contacts of failed organizations were recorded as skipped."""

    sb: Sandbox
    organization_faults: float = 0.5
    interrupt: bool = True

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_push = push_file.push

        async def push(client: Any, operations: Any, *, endpoint: str, **kwargs: Any) -> Any:
            if endpoint == "organizations":
                self.sb.configure(fault_rate=self.organization_faults, fault_kinds=("server_error",))
            else:
                self.sb.configure(fault_rate=0.0)
                if self.interrupt:
                    raise KeyboardInterrupt
            return await real_push(client, operations, endpoint=endpoint, **kwargs)

        monkeypatch.setattr(push_file, "push", push)


def test_resume_sends_contacts_skipped_because_their_organization_failed(
    tmp_path: Path, sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an interrupted run whose organization batches failed transiently, --resume writes those
    organizations and then every contact, linked to its organization, as the sandbox's store shows."""
    csv_path = write_rows(tmp_path / "contacts.csv", make_rows(CONTACTS, ACCOUNTS))
    journal, report = tmp_path / "journal.db", tmp_path / "out" / "reconciliation.csv"
    # One attempt per request: a 5xx fails its batch as a whole instead of being retried away.
    settings = sandbox_settings(sb, max_attempts=1)
    target = f"sandbox:{tmp_path / 'sandbox.db'}"

    weather = _Weather(sb)
    weather.install(monkeypatch)
    with pytest.raises(RunInterruptedError):
        import_file(csv_path, settings, OPTIONS, report_path=report, journal=journal, target=target)
    skipped = journal_query(journal, "SELECT key FROM outcomes WHERE kind = 'contact' AND status = 'skipped'")
    assert skipped, "the faults were meant to fail some organization batches"
    assert len(external_ids(sb, "organizations")) < ACCOUNTS
    assert not external_ids(sb, "contacts")

    weather.organization_faults, weather.interrupt = 0.0, False
    result = import_file(
        csv_path, settings, OPTIONS, report_path=report, journal=journal, resume="last", target=target
    )

    assert result.all_succeeded
    rows = read_report(report)
    assert {row["contact_status"] for row in rows} == {"created"}
    assert {row["organization_status"] for row in rows} == {"created"}
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
        stored = sb.store.get("contacts", row["genesys_contact_id"])
        assert stored is not None, row["Contact ID"]
        assert row["genesys_organization_id"] == org_by_account[row["Account ID"]]
        assert stored["externalOrganization"]["id"] == org_by_account[row["Account ID"]]
