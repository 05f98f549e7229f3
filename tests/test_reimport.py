"""Change-only re-imports: only records whose fingerprint changed (or never pushed successfully) are sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from journal_support import SentRecorder, make_rows, read_report, record_sent, write_rows

from pipeline.cli import cli
from pipeline.importing import bodies
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

CONTACTS = 300
ACCOUNTS = 30


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0, state_path=tmp_path / "sandbox.db")) as sandbox:
        yield sandbox


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> SentRecorder:
    return record_sent(monkeypatch)


def _import(sb: Sandbox, tmp_path: Path, csv_path: Path, *extra: str) -> Result:
    runner = CliRunner(env={"GENESYS_CLIENT_SECRET": sb.client_secret, "GENESYS_REGION": None})
    args = [
        "import", str(csv_path), "--base-url", sb.base_url, "--client-id", sb.client_id, "--create-source",
        "--rate-limit", "0", "--journal", str(tmp_path / "journal.db"),
        "--report", str(tmp_path / "out" / "reconciliation.csv"), *extra,
    ]  # fmt: skip
    return runner.invoke(cli, args, catch_exceptions=False)


def _enrich_requests(sb: Sandbox) -> int:
    return sum(n for route, n in sb.stats.requests.items() if "enrich" in route)


def _statuses(tmp_path: Path) -> dict[str, tuple[str, str]]:
    report = read_report(tmp_path / "out" / "reconciliation.csv")
    return {r["Contact ID"]: (r["organization_status"], r["contact_status"]) for r in report}


@pytest.fixture
def imported(sb: Sandbox, tmp_path: Path, sent: SentRecorder) -> list[dict[str, str]]:
    """The file imported once into an empty sandbox; the recorder cleared afterwards."""
    rows = make_rows(CONTACTS, ACCOUNTS)
    result = _import(sb, tmp_path, write_rows(tmp_path / "contacts.csv", rows))
    assert result.exit_code == 0, result.output
    assert set(_statuses(tmp_path).values()) == {("created", "created")}
    sent.clear()
    return rows


def test_reimporting_the_same_file_sends_nothing_and_reports_unchanged(
    sb: Sandbox, tmp_path: Path, sent: SentRecorder, imported: list[dict[str, str]]
) -> None:
    """A second import of an unchanged file makes zero enrich requests and every row is unchanged."""
    before = _enrich_requests(sb)
    result = _import(sb, tmp_path, tmp_path / "contacts.csv")
    assert result.exit_code == 0, result.output
    assert _enrich_requests(sb) == before
    assert sent.keys() == set()
    assert set(_statuses(tmp_path).values()) == {("unchanged", "unchanged")}
    report = read_report(tmp_path / "out" / "reconciliation.csv")
    # Unchanged rows still carry the Genesys ids of their records.
    stored = {r["id"] for r in sb.store.all("contacts")}
    assert {r["genesys_contact_id"] for r in report} == stored


def test_changing_one_percent_of_rows_sends_only_their_records(
    sb: Sandbox, tmp_path: Path, sent: SentRecorder, imported: list[dict[str, str]]
) -> None:
    """Three changed contacts and one renamed account are the only records sent on re-import."""
    rows = [dict(r) for r in imported]
    for index in (5, 150, 299):
        rows[index]["Contact Title"] = "Director"
    for row in rows:
        if row["Account ID"] == "A-0007":
            row["Account Name"] = "Renamed Ltd"
    result = _import(sb, tmp_path, write_rows(tmp_path / "contacts.csv", rows))

    assert result.exit_code == 0, result.output
    changed_contacts = {("contact", rows[i]["Contact ID"]) for i in (5, 150, 299)}
    assert sent.keys() == changed_contacts | {("organization", "A-0007")}
    statuses = _statuses(tmp_path)
    for contact_id, (org_status, contact_status) in statuses.items():
        assert contact_status == ("updated" if ("contact", contact_id) in changed_contacts else "unchanged")
        account = next(r["Account ID"] for r in rows if r["Contact ID"] == contact_id)
        assert org_status == ("updated" if account == "A-0007" else "unchanged")
    titles = {c["externalIds"][0]["value"]: c.get("title") for c in sb.store.all("contacts")}
    assert titles[rows[150]["Contact ID"]] == "Director"


def test_full_sends_every_record_again(
    sb: Sandbox, tmp_path: Path, sent: SentRecorder, imported: list[dict[str, str]]
) -> None:
    """``--full`` re-sends every record even though none changed."""
    result = _import(sb, tmp_path, tmp_path / "contacts.csv", "--full")
    assert result.exit_code == 0, result.output
    assert len(sent.keys()) == CONTACTS + ACCOUNTS
    assert set(_statuses(tmp_path).values()) == {("updated", "updated")}


def test_new_contact_of_an_unchanged_account_is_linked_to_its_organization(
    sb: Sandbox, tmp_path: Path, sent: SentRecorder, imported: list[dict[str, str]]
) -> None:
    """An added row sends only its contact, linked to the id of its unchanged (unsent) organization."""
    extra = dict(imported[3], **{"Contact ID": "C-NEW", "Contact Work Email": "new@example.com"})
    result = _import(sb, tmp_path, write_rows(tmp_path / "contacts.csv", [*imported, extra]))
    assert result.exit_code == 0, result.output
    assert sent.keys() == {("contact", "C-NEW")}
    org = next(
        o for o in sb.store.all("organizations") if o["externalIds"][0]["value"] == extra["Account ID"]
    )
    new = next(c for c in sb.store.all("contacts") if c["externalIds"][0]["value"] == "C-NEW")
    assert new["externalOrganization"]["id"] == org["id"]
    assert _statuses(tmp_path)["C-NEW"] == ("unchanged", "created")


def test_contact_moving_to_another_account_is_sent_again(
    sb: Sandbox, tmp_path: Path, sent: SentRecorder, imported: list[dict[str, str]]
) -> None:
    """A contact whose Account ID changed is re-sent (and re-linked) though its own fields did not change."""
    rows = [dict(r) for r in imported]
    target = next(r for r in rows if r["Account ID"] != rows[0]["Account ID"])
    rows[0].update({k: target[k] for k in ("Account ID", "Account Name", "Account City")})
    result = _import(sb, tmp_path, write_rows(tmp_path / "contacts.csv", rows))
    assert result.exit_code == 0, result.output
    assert sent.keys() == {("contact", rows[0]["Contact ID"])}
    moved = next(c for c in sb.store.all("contacts") if c["externalIds"][0]["value"] == rows[0]["Contact ID"])
    org = next(
        o for o in sb.store.all("organizations") if o["externalIds"][0]["value"] == target["Account ID"]
    )
    assert moved["externalOrganization"]["id"] == org["id"]


def test_dry_run_reports_unchanged_rows_but_remembers_nothing(
    sb: Sandbox, tmp_path: Path, sent: SentRecorder, imported: list[dict[str, str]]
) -> None:
    """A dry run skips unchanged records too; a changed record it checked is still sent by the real run."""
    rows = [dict(r) for r in imported]
    rows[10]["Contact Title"] = "Director"
    csv_path = write_rows(tmp_path / "contacts.csv", rows)

    result = _import(sb, tmp_path, csv_path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert sent.keys() == {("contact", rows[10]["Contact ID"])}
    statuses = _statuses(tmp_path)
    assert statuses[rows[10]["Contact ID"]] == ("unchanged", "updated")
    assert sum(1 for s in statuses.values() if s == ("unchanged", "unchanged")) == CONTACTS - 1

    sent.clear()
    result = _import(sb, tmp_path, csv_path)
    assert result.exit_code == 0, result.output
    assert sent.keys() == {("contact", rows[10]["Contact ID"])}


def test_contacts_follow_an_organization_that_was_created_again(
    sb: Sandbox, tmp_path: Path, sent: SentRecorder, imported: list[dict[str, str]]
) -> None:
    """An organization deleted in Genesys and re-created by a changed row gets its unchanged contacts back."""
    rows = [dict(r) for r in imported]
    account = rows[0]["Account ID"]
    old = next(o for o in sb.store.all("organizations") if o["externalIds"][0]["value"] == account)
    assert sb.store.delete("organizations", old["id"])
    for row in rows:
        if row["Account ID"] == account:
            row["Account City"] = "Somewhere New"
    result = _import(sb, tmp_path, write_rows(tmp_path / "contacts.csv", rows))
    assert result.exit_code == 0, result.output
    new = next(o for o in sb.store.all("organizations") if o["externalIds"][0]["value"] == account)
    members = {r["Contact ID"] for r in rows if r["Account ID"] == account}
    assert sent.keys() == {("organization", account)} | {("contact", key) for key in members}
    for contact in sb.store.all("contacts"):
        if contact["externalIds"][0]["value"] in members:
            assert contact["externalOrganization"]["id"] == new["id"]


def test_change_only_reimport_builds_bodies_only_for_the_records_it_sends(
    sb: Sandbox,
    tmp_path: Path,
    sent: SentRecorder,
    imported: list[dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Records settled as unchanged by their fingerprint never get a request body built; the two sent do,
    and the sandbox stores what they carry."""
    built: list[str] = []
    real = bodies.BodyBuilder.__call__

    def counting(
        self: bodies.BodyBuilder, row: tuple[object, ...], organization_id: str | None = None
    ) -> dict:
        body = real(self, row, organization_id)
        built.append(body["id"])
        return body

    monkeypatch.setattr(bodies.BodyBuilder, "__call__", counting)
    rows = [dict(r) for r in imported]
    rows[42]["Contact Title"] = "Director"
    for row in rows:
        if row["Account ID"] == "A-0003":
            row["Account City"] = "Cork"
    result = _import(sb, tmp_path, write_rows(tmp_path / "contacts.csv", rows))

    assert result.exit_code == 0, result.output
    assert sorted(built) == sorted([rows[42]["Contact ID"], "A-0003"])
    assert sent.keys() == {("contact", rows[42]["Contact ID"]), ("organization", "A-0003")}
    contact = next(
        c for c in sb.store.all("contacts") if c["externalIds"][0]["value"] == rows[42]["Contact ID"]
    )
    org = next(o for o in sb.store.all("organizations") if o["externalIds"][0]["value"] == "A-0003")
    assert contact["title"] == "Director"
    assert org["address"]["city"] == "Cork"
    # Its body was built linked to its unchanged (unsent) organization.
    linked = next(
        o for o in sb.store.all("organizations") if o["externalIds"][0]["value"] == rows[42]["Account ID"]
    )
    assert contact["externalOrganization"]["id"] == linked["id"]
