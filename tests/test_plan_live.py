"""`plan` and `import --compare-live` against the sandbox over real HTTP: what they read, what they show,
and that a plan writes nothing."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sandbox_support import sandbox_settings

from pipeline.cli import cli
from pipeline.destination import DEFAULT_EXTERNAL_SOURCE
from pipeline.genesys.client import GenesysClient
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

HEADERS = ["Contact ID", "Contact First Name", "Contact Work Phone", "Account ID", "Account Name"]
CONTACTS = 30
ACCOUNTS = 5
# Routes a plan may use: the token and reads (bulk reads by id, scans, lookups, listings).
READ_POSTS = {
    "POST /oauth/token",
    "POST /api/v2/externalcontacts/bulk/contacts",
    "POST /api/v2/externalcontacts/bulk/organizations",
    "POST /api/v2/externalcontacts/identifierlookup/contacts",
    "POST /api/v2/externalcontacts/identifierlookup/organizations",
}
EDITED = "<img src=x onerror=alert(1)>"


def _rows(extra: int = 0) -> list[dict[str, str]]:
    return [
        {
            "Contact ID": f"C-{i:03d}",
            "Contact First Name": f"First{i}",
            # Written as people type them: the stored form is E.164, so only normalized forms compare equal.
            "Contact Work Phone": f"+353 1 555 {i:04d}",
            "Account ID": f"A-{i % ACCOUNTS}",
            "Account Name": f"Account {i % ACCOUNTS}",
        }
        for i in range(CONTACTS + extra)
    ]


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADERS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0, state_path=tmp_path / "sandbox.db")) as sandbox:
        yield sandbox


def _run(sb: Sandbox, *args: str) -> Result:
    runner = CliRunner(env={"GENESYS_CLIENT_SECRET": sb.client_secret, "GENESYS_REGION": None})
    common = ["--base-url", sb.base_url, "--client-id", sb.client_id, "--rate-limit", "0"]
    return runner.invoke(cli, [*args, *common], catch_exceptions=False)


def _import(sb: Sandbox, tmp_path: Path, csv_path: Path, *extra: str) -> Result:
    report = str(tmp_path / "out" / "reconciliation.csv")
    return _run(sb, "import", str(csv_path), "--create-source", "--report", report, *extra)


def _plan(sb: Sandbox, tmp_path: Path, csv_path: Path, *extra: str) -> Result:
    out, html = str(tmp_path / "plan.csv"), str(tmp_path / "plan.html")
    return _run(sb, "plan", str(csv_path), "--out", out, "--html", html, *extra)


def _edit_in_genesys(sb: Sandbox, key: str, first_name: str) -> None:
    """Someone edits a contact in Genesys itself: an Update enrich matched by its ExternalId."""

    async def edit() -> None:
        async with GenesysClient(sandbox_settings(sb)) as client:
            source = await client.find_external_source(DEFAULT_EXTERNAL_SOURCE)
            assert source is not None
            identifier = {"type": "ExternalId", "value": key, "externalSource": {"id": source["id"]}}
            op = {"id": "edit", "action": "Update", "matchingIdentifiers": [identifier]}
            result = await client.bulk_enrich("contacts", [{**op, "contact": {"firstName": first_name}}])
            assert result.error_count == 0

    asyncio.run(edit())


def _diff(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "plan.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def imported(sb: Sandbox, tmp_path: Path) -> Path:
    """The file imported once (journaled), then one contact edited directly in Genesys."""
    path = _write(tmp_path / "contacts.csv", _rows())
    result = _import(sb, tmp_path, path)
    assert result.exit_code == 0, result.output
    _edit_in_genesys(sb, "C-003", EDITED)
    return path


def test_plan_shows_a_live_edit_as_an_update_a_new_row_as_a_create_and_the_rest_unchanged(
    sb: Sandbox, tmp_path: Path, imported: Path
) -> None:
    """The journal calls C-003 unchanged, but the live record differs: plan shows field, before, after."""
    path = _write(tmp_path / "contacts.csv", _rows(extra=1))
    result = _plan(sb, tmp_path, path)
    assert result.exit_code == 0, result.output
    rows = _diff(tmp_path)
    updates = [r for r in rows if r["action"] == "update"]
    assert [(r["key"], r["field"], r["before"], r["after"]) for r in updates] == [
        ("C-003", "Contact First Name", EDITED, "First3")
    ]
    stored = {r["id"] for r in sb.store.all("contacts") if r["firstName"] == EDITED}
    assert {r["genesys_id"] for r in updates} == stored
    created = {(r["kind"], r["key"], r["field"]) for r in rows if r["action"] == "create"}
    assert created == {
        ("contact", "C-030", "Contact First Name"),
        ("contact", "C-030", "Contact Work Phone"),
        ("contact", "C-030", "organization"),
    }
    unchanged = [(r["kind"], r["key"]) for r in rows if r["action"] == "unchanged"]
    # Every other record once, phones included: the typed "+353 1 555 0001" equals the stored E.164.
    assert len(unchanged) == len(set(unchanged)) == ACCOUNTS + CONTACTS - 1
    assert "Would create: 1 records" in result.output
    assert "Would update: 1 records (1 fields)" in result.output
    assert f"Unchanged: {ACCOUNTS + CONTACTS - 1} records" in result.output
    assert "bulk (" in result.output  # the journal knew the ids: read by id in bulk


def test_plan_sends_only_reads(sb: Sandbox, tmp_path: Path, imported: Path) -> None:
    """Between the start and the end of a plan the sandbox sees GETs and read POSTs only, and its store
    is unchanged."""
    before_requests = dict(sb.stats.requests)
    before_store = sb.store.all("contacts"), sb.store.all("organizations")
    path = _write(tmp_path / "contacts.csv", _rows(extra=1))
    assert _plan(sb, tmp_path, path).exit_code == 0
    after = sb.stats.requests
    sent = {route for route, n in after.items() if n != before_requests.get(route, 0)}
    assert sent, "the plan sent nothing at all"
    assert {r for r in sent if not r.startswith("GET ")} <= READ_POSTS
    assert (sb.store.all("contacts"), sb.store.all("organizations")) == before_store


def test_plan_without_the_journal_scans_or_looks_records_up(
    sb: Sandbox, tmp_path: Path, imported: Path
) -> None:
    """With a journal that knows nothing, the 30 contacts are read by one scan page, and the 5 accounts
    by lookups; the diff is the same."""
    result = _plan(sb, tmp_path, imported, "--journal", str(tmp_path / "other.db"))
    assert result.exit_code == 0, result.output
    # Two requests: the divisions the token sees (to choose the scan), then one page.
    assert "scan (2 requests, 30 found)" in result.output
    assert f"lookup ({ACCOUNTS} requests, {ACCOUNTS} found)" in result.output
    assert [(r["key"], r["action"]) for r in _diff(tmp_path) if r["action"] != "unchanged"] == [
        ("C-003", "update")
    ]


def test_html_plan_escapes_values_and_loads_nothing(sb: Sandbox, tmp_path: Path, imported: Path) -> None:
    """The page holds the changed values HTML-escaped, and no URL it would fetch."""
    assert _plan(sb, tmp_path, imported).exit_code == 0
    page = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert EDITED not in page
    assert "http" not in page.lower()
    assert "fetch(" not in page
    assert "<link" not in page
    assert "src=" not in page.replace("src=x", "")
    assert "<h2>Account A-3</h2>" in page


def test_plan_csv_cells_never_start_a_formula(sb: Sandbox, tmp_path: Path, imported: Path) -> None:
    """A stored value that looks like a formula comes out escaped in the diff CSV."""
    _edit_in_genesys(sb, "C-004", "=HYPERLINK(1)")
    assert _plan(sb, tmp_path, imported).exit_code == 0
    text = (tmp_path / "plan.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(1)" in text
    assert ",=" not in text


def test_import_compare_live_sends_only_records_that_differ_live(
    sb: Sandbox, tmp_path: Path, imported: Path
) -> None:
    """With a journal that knows nothing, --compare-live sends only the edited contact, restoring it."""
    before = sum(n for route, n in sb.stats.requests.items() if "enrich" in route)
    result = _import(sb, tmp_path, imported, "--compare-live", "--journal", str(tmp_path / "other.db"))
    assert result.exit_code == 0, result.output
    assert sum(n for route, n in sb.stats.requests.items() if "enrich" in route) == before + 1
    with (tmp_path / "out" / "reconciliation.csv").open(encoding="utf-8", newline="") as handle:
        statuses = {r["Contact ID"]: r["contact_status"] for r in csv.DictReader(handle)}
    assert statuses.pop("C-003") == "updated"
    assert set(statuses.values()) == {"unchanged"}
    assert {r["firstName"] for r in sb.store.all("contacts")} == {f"First{i}" for i in range(CONTACTS)}
    # Remembered: the next import skips them all by the journal alone, sending nothing.
    again = _import(sb, tmp_path, imported, "--journal", str(tmp_path / "other.db"))
    assert again.exit_code == 0, again.output
    assert sum(n for route, n in sb.stats.requests.items() if "enrich" in route) == before + 1


def test_bulk_get_reads_by_id_in_batches_and_leaves_out_unknown_ids(sb: Sandbox, imported: Path) -> None:
    """Twenty-five ids take three bulk reads of at most ten; an id naming no record is simply absent."""
    ids = [*[r["id"] for r in sb.store.all("contacts")][:24], "no-such-id"]

    async def read() -> dict[str, dict[str, object]]:
        async with GenesysClient(sandbox_settings(sb)) as client:
            return await client.bulk_get("contacts", ids)

    before = sb.stats.requests.get("POST /api/v2/externalcontacts/bulk/contacts", 0)
    found = asyncio.run(read())
    assert sb.stats.requests["POST /api/v2/externalcontacts/bulk/contacts"] - before == 3
    assert set(found) == set(ids[:24])
    assert all(found[i]["id"] == i for i in ids[:24])


def test_plan_with_blanks_clear_lists_the_emptied_cells_as_clears_and_import_then_clears_them(
    sb: Sandbox, tmp_path: Path, imported: Path
) -> None:
    """An emptied phone is a `clear` row under --blanks clear (nothing under keep); the import then
    empties exactly that stored field, and a second plan shows nothing left to clear."""
    rows = _rows()
    rows[7]["Contact Work Phone"] = ""
    path = _write(tmp_path / "contacts.csv", rows)
    kept = _plan(sb, tmp_path, path)
    assert kept.exit_code == 0, kept.output
    assert not [r for r in _diff(tmp_path) if r["action"] == "clear"]
    before_store = sb.store.all("contacts")
    cleared = _plan(sb, tmp_path, path, "--blanks", "clear")
    assert cleared.exit_code == 0, cleared.output
    assert sb.store.all("contacts") == before_store, "a plan never writes"
    clears = [
        (r["key"], r["field"], r["before"], r["after"]) for r in _diff(tmp_path) if r["action"] == "clear"
    ]
    assert clears == [("C-007", "Contact Work Phone", "+35315550007", "")]
    assert _import(sb, tmp_path, path, "--blanks", "clear").exit_code == 0
    stored = {r["externalIds"][0]["value"]: r for r in sb.store.all("contacts")}
    assert "workPhone" not in stored["C-007"] or stored["C-007"]["workPhone"] is None
    assert stored["C-008"]["workPhone"]["e164"] == "+35315550008"
    again = _plan(sb, tmp_path, path, "--blanks", "clear")
    assert again.exit_code == 0, again.output
    assert not [r for r in _diff(tmp_path) if r["action"] == "clear"]


def test_plan_with_delete_missing_lists_the_records_import_would_delete_and_deletes_nothing(
    sb: Sandbox, tmp_path: Path, imported: Path
) -> None:
    """Rows removed from the file are `delete` rows (an account left without contacts too); nothing goes."""
    rows = _rows()
    gone = {r["Contact ID"] for r in rows if r["Account ID"] == "A-4"}  # every contact of one account
    path = _write(tmp_path / "contacts.csv", [r for r in rows if r["Contact ID"] not in gone])
    before = sb.store.all("contacts"), sb.store.all("organizations")
    result = _plan(sb, tmp_path, path, "--delete-missing", "--max-delete", "100%")
    assert result.exit_code == 0, result.output
    assert (sb.store.all("contacts"), sb.store.all("organizations")) == before, "a plan never deletes"
    deletes = {(r["kind"], r["key"]) for r in _diff(tmp_path) if r["action"] == "delete"}
    assert deletes == {("contact", key) for key in gone} | {("organization", "A-4")}
    stored_ids = {r["id"] for r in before[0]} | {r["id"] for r in before[1]}
    assert {r["genesys_id"] for r in _diff(tmp_path) if r["action"] == "delete"} <= stored_ids
    assert f"Would delete: {len(gone) + 1} records" in result.output
    guarded = _plan(sb, tmp_path, path, "--delete-missing")
    assert guarded.exit_code == 0, guarded.output
    assert "import --delete-missing would refuse" in guarded.output
