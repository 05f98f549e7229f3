"""``import --delete-missing`` against the sandbox over HTTP: which records go, which stay, the guard, the
rule that a failed row blocks deletions, and the ``.deleted.csv`` file that restores what went."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sandbox_support import sandbox_settings

from pipeline.cli import cli
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.endpoints import API
from pipeline.sandbox import DEMO_CONTACT_SCHEMA_ID, Sandbox, SandboxConfig, run_sandbox

HEADERS = [
    "Contact ID", "Contact First Name", "Contact Last Name", "Contact Work Email", "custom:loyalty_tier_text",
    "Account ID", "Account Name", "Account Industry",
]  # fmt: skip
ROWS = [
    ["C-1", "Ann", "Berg", "ann@example.com", "gold", "A-1", "Acme", "Retail"],
    ["C-2", "Bob", "Dahl", "bob@example.com", "", "A-1", "Acme", "Retail"],
    ["C-3", "Cat", "Eng", "cat@example.com", "silver", "A-2", "Bolt", "Energy"],
    ["C-4", "Dan", "Fox", "", "", "A-2", "Bolt", "Energy"],
    ["C-5", "Eve", "Gil", "eve@example.com", "", "A-3", "Core", "Mining"],
    ["C-6", "Fay", "Hale", "fay@example.com", "bronze", "A-3", "Core", "Mining"],
    ["C-7", "Gus", "Ives", "gus@example.com", "gold", "A-4", "Dune", "Travel"],
    ["C-8", "Hal", "Jung", "", "", "A-4", "Dune", "Travel"],
]
REMOVED = {"C-6", "C-7", "C-8"}  # A-4 has no row left; A-3 keeps C-5
KEPT_ROWS = [r for r in ROWS if r[0] not in REMOVED]
SOURCE = "CRM"
# Fields a write or a re-creation changes by itself.
VOLATILE = {"id", "selfUri", "createDate", "modifyDate", "identifiers", "externalOrganization"}


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0, state_path=tmp_path / "sandbox.db")) as sandbox:
        yield sandbox


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


def _import(sb: Sandbox, tmp_path: Path, csv_path: Path, *extra: str, source: str = SOURCE) -> Result:
    runner = CliRunner(env={"GENESYS_CLIENT_SECRET": sb.client_secret, "GENESYS_REGION": None})
    args = [
        "import", str(csv_path), "--base-url", sb.base_url, "--client-id", sb.client_id, "--create-source",
        "--external-source", source, "--rate-limit", "0", "--journal", str(tmp_path / "journal.db"),
        "--contact-schema", DEMO_CONTACT_SCHEMA_ID, "--report", str(tmp_path / "out" / "reconciliation.csv"),
        *extra,
    ]  # fmt: skip
    return runner.invoke(cli, args, catch_exceptions=False)


def _stored(sb: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    """Every stored record by (kind, source name, key) -> fields; records without ExternalId by id."""
    sources = {s["id"]: s["name"] for s in sb.store.all("externalsources")}
    orgs = {r["id"]: r for r in sb.store.all("organizations")}
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, collection in (("contact", "contacts"), ("organization", "organizations")):
        for record in sb.store.all(collection):
            ext = record.get("externalIds") or []
            name = f"{sources[ext[0]['externalSource']['id']]}:{ext[0]['value']}" if ext else record["id"]
            fields = {k: v for k, v in record.items() if k not in VOLATILE}
            link = (record.get("externalOrganization") or {}).get("id")
            if link:
                fields["organization"] = (orgs[link].get("externalIds") or [{}])[0].get("value", link)
            stored[(kind, name)] = fields
    return stored


def _insert_without_external_id(sb: Sandbox, organization_key: str) -> None:
    """A contact someone made by hand in Genesys (no ExternalId), linked to one of our organizations."""
    org_id = next(
        r["id"] for r in sb.store.all("organizations") if r["externalIds"][0]["value"] == organization_key
    )
    operation = {
        "action": "Insert",
        "matchingIdentifiers": [{"type": "Email", "value": "walk.in@example.com"}],
        "contact": {
            "firstName": "Walk",
            "lastName": "In",
            "workEmail": "walk.in@example.com",
            "externalOrganization": {"id": org_id},
        },
    }

    async def post() -> None:
        async with GenesysClient(sandbox_settings(sb)) as client:
            await client.request("POST", f"{API}/contacts/enrich", json=operation, retry_unsafe=True)

    asyncio.run(post())


@pytest.fixture
def first(sb: Sandbox, tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The full file imported for CRM, a record of another source, and one without ExternalId."""
    assert _import(sb, tmp_path, _write(tmp_path / "contacts.csv", ROWS)).exit_code == 0
    other = _write(tmp_path / "legacy.csv", [["L-1", "Lou", "Kim", "", "", "LA-1", "Old Co", "Retail"]])
    assert _import(sb, tmp_path, other, source="Legacy").exit_code == 0
    _insert_without_external_id(sb, "A-1")
    return _stored(sb)


def _deleted_file(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "out" / "reconciliation.deleted.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _crm(keys: set[str], kind: str = "contact") -> set[tuple[str, str]]:
    return {(kind, f"{SOURCE}:{k}") for k in keys}


def test_delete_missing_deletes_exactly_the_removed_rows_and_their_lone_organization(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """Three rows gone from the file: their three contacts and the organization no contact is left on are
    deleted; every other record stays as it was, another source's and one without ExternalId included."""
    result = _import(sb, tmp_path, _write(tmp_path / "contacts.csv", KEPT_ROWS), "--delete-missing",
                     "--max-delete", "4")  # fmt: skip
    assert result.exit_code == 0, result.output
    gone = _crm(REMOVED) | _crm({"A-4"}, "organization")
    assert _stored(sb) == {k: v for k, v in first.items() if k not in gone}
    rows = _deleted_file(tmp_path)
    assert {(r["delete_kind"], r["Contact ID"] or r["Account ID"], r["delete_status"]) for r in rows} == {
        ("contact", "C-6", "deleted"), ("contact", "C-7", "deleted"), ("contact", "C-8", "deleted"),
        ("organization", "A-4", "deleted"),
    }  # fmt: skip
    assert "deleted 3 contacts" in result.output
    assert "deleted 1 organizations" in result.output
    summary = json.loads((tmp_path / "out" / "reconciliation.summary.json").read_text(encoding="utf-8"))
    assert summary["deletions"]["contacts"] == {"deleted": 3}
    shown = CliRunner().invoke(cli, ["runs", "--journal", str(tmp_path / "journal.db"), "show", "3"])
    assert "3 contacts deleted" in shown.output
    assert "3 deleted" in shown.output


def test_the_deleted_file_restores_the_deleted_records(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """Importing the .deleted.csv brings back the deleted records with the same keys and fields, their
    organization link included."""
    kept = _write(tmp_path / "contacts.csv", KEPT_ROWS)
    assert _import(sb, tmp_path, kept, "--delete-missing", "--max-delete", "4").exit_code == 0
    restore = tmp_path / "restore.csv"
    restore.write_bytes((tmp_path / "out" / "reconciliation.deleted.csv").read_bytes())
    result = _import(sb, tmp_path, restore)
    assert result.exit_code == 0, result.output
    assert _stored(sb) == first


def test_an_organization_another_contact_links_to_is_kept(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """A missing organization that a contact without ExternalId links to is skipped with a message."""
    gone_rows = [r for r in ROWS if r[5] != "A-1"]  # C-1, C-2 and their organization A-1
    result = _import(sb, tmp_path, _write(tmp_path / "contacts.csv", gone_rows), "--delete-missing",
                     "--max-delete", "3")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _stored(sb) == {k: v for k, v in first.items() if k not in _crm({"C-1", "C-2"})}
    org_row = next(r for r in _deleted_file(tmp_path) if r["delete_kind"] == "organization")
    assert (org_row["Account ID"], org_row["delete_status"]) == ("A-1", "skipped")
    assert "link to it" in org_row["delete_error_message"]


def test_more_deletions_than_the_guard_allows_change_nothing(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """Over --max-delete (default 5%) the run exits 2 before sending anything, saying how many would go
    and how to raise the guard: even the file's changed row is not written."""
    rows = [list(r) for r in KEPT_ROWS]
    rows[0][HEADERS.index("Contact Last Name")] = "Changed"
    result = _import(sb, tmp_path, _write(tmp_path / "contacts.csv", rows), "--delete-missing")
    assert result.exit_code == 2, result.output
    assert "would delete 4 records" in result.output
    assert "--max-delete 4" in result.output
    assert _stored(sb) == first
    assert (
        _import(sb, tmp_path, tmp_path / "contacts.csv", "--delete-missing", "--max-delete", "3").exit_code
        == 2
    )
    assert _stored(sb) == first


def test_a_failed_row_blocks_every_deletion(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """One invalid row in the file: the valid rows are imported, nothing is deleted, the run exits 1 and
    the .deleted.csv lists what would have gone as skipped, saying why."""
    rows = [list(r) for r in KEPT_ROWS]
    rows[0][HEADERS.index("Contact Work Email")] = "not an email"
    result = _import(sb, tmp_path, _write(tmp_path / "contacts.csv", rows), "--delete-missing",
                     "--max-delete", "4")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert _stored(sb) == first
    rows_written = _deleted_file(tmp_path)
    assert len(rows_written) == 4
    outcomes = {(r["delete_status"], r["delete_error_code"]) for r in rows_written}
    assert outcomes == {("skipped", "delete.blocked")}


def test_a_dry_run_deletes_nothing_and_says_what_would_go(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """--dry-run --delete-missing reports 'would delete' for each record and leaves the store alone."""
    result = _import(sb, tmp_path, _write(tmp_path / "contacts.csv", KEPT_ROWS), "--delete-missing",
                     "--max-delete", "4", "--dry-run")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "would delete 3 contacts" in result.output
    assert _stored(sb) == first
    assert {r["delete_status"] for r in _deleted_file(tmp_path)} == {"would_delete"}
