"""``import --blanks``: re-importing a file whose cells were emptied, against the sandbox over HTTP, and
checking what the sandbox stored."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from journal_support import read_report

from pipeline.cli import cli
from pipeline.sandbox import DEMO_CONTACT_SCHEMA_ID, Sandbox, SandboxConfig, run_sandbox

HEADERS = [
    "Contact ID", "Contact First Name", "Contact Last Name", "Contact Title", "custom:loyalty_tier_text",
    "Account ID", "Account Name", "Account Industry", "Account Tags",
]  # fmt: skip
ROWS = [
    ["C-1", "Ann", "Berg", "CEO", "gold", "A-1", "Acme", "Retail", "vip;north"],
    ["C-2", "Bob", "Dahl", "CFO", "silver", "A-1", "Acme", "Retail", "vip;north"],
    ["C-3", "Cat", "Eng", "CTO", "bronze", "A-2", "Bolt", "Energy", "south"],
]
# What a blanked re-import empties: C-1's title (scalar) and tier (custom field), A-1's tags (a list).
BLANKED = {("contact", "C-1"): {"title", "customFields"}, ("organization", "A-1"): {"tags"}}


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0, state_path=tmp_path / "sandbox.db")) as sandbox:
        yield sandbox


def _write(path: Path, rows: list[list[str]], drop: str | None = None) -> Path:
    keep = [i for i, h in enumerate(HEADERS) if h != drop]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([HEADERS[i] for i in keep])
        writer.writerows([[row[i] for i in keep] for row in rows])
    return path


def _blanked_rows() -> list[list[str]]:
    rows = [list(r) for r in ROWS]
    rows[0][HEADERS.index("Contact Title")] = ""
    rows[0][HEADERS.index("custom:loyalty_tier_text")] = ""
    for row in rows[:2]:  # both rows of A-1, so they agree
        row[HEADERS.index("Account Tags")] = ""
    return rows


def _import(sb: Sandbox, tmp_path: Path, csv_path: Path, *extra: str) -> Any:
    runner = CliRunner(env={"GENESYS_CLIENT_SECRET": sb.client_secret, "GENESYS_REGION": None})
    args = [
        "import", str(csv_path), "--base-url", sb.base_url, "--client-id", sb.client_id, "--create-source",
        "--rate-limit", "0", "--journal", str(tmp_path / "journal.db"),
        "--contact-schema", DEMO_CONTACT_SCHEMA_ID,
        "--report", str(tmp_path / "out" / "reconciliation.csv"), *extra,
    ]  # fmt: skip
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _stored(sb: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    """Every stored record by (kind, key), without the fields any write changes."""
    stored = {}
    for kind, collection in (("contact", "contacts"), ("organization", "organizations")):
        for record in sb.store.all(collection):
            fields = {k: v for k, v in record.items() if k not in ("modifyDate", "identifiers")}
            stored[(kind, record["externalIds"][0]["value"])] = fields
    return stored


def _enrich_requests(sb: Sandbox) -> int:
    return sum(n for route, n in sb.stats.requests.items() if "enrich" in route)


@pytest.fixture
def first(sb: Sandbox, tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The full file imported once; what the sandbox stored then."""
    _import(sb, tmp_path, _write(tmp_path / "contacts.csv", ROWS))
    stored = _stored(sb)
    assert stored[("contact", "C-1")]["title"] == "CEO"
    assert stored[("organization", "A-1")]["tags"] == ["vip", "north"]
    return stored


def test_keep_leaves_the_fields_of_blank_cells_alone(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """With --blanks keep (the default) emptied cells change nothing in Genesys."""
    _import(sb, tmp_path, _write(tmp_path / "contacts.csv", _blanked_rows()), "--blanks", "keep")
    assert _stored(sb) == first


def test_clear_empties_exactly_the_blank_fields_and_then_converges(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """With --blanks clear the emptied scalar, custom and list fields are cleared and every other stored
    field is untouched, a column left out of the file (Account Industry) included; importing the same
    file again sends nothing and reports every record unchanged."""
    blanked = _write(tmp_path / "contacts.csv", _blanked_rows(), drop="Account Industry")
    _import(sb, tmp_path, blanked, "--blanks", "clear")
    after = _stored(sb)
    assert after.keys() == first.keys()
    for key, before in first.items():
        cleared = BLANKED.get(key, set())
        assert after[key] == {k: v for k, v in before.items() if k not in cleared}
    assert after[("organization", "A-1")]["industry"] == "Retail"

    requests = _enrich_requests(sb)
    _import(sb, tmp_path, blanked, "--blanks", "clear")
    assert _enrich_requests(sb) == requests
    report = read_report(tmp_path / "out" / "reconciliation.csv")
    assert {(r["organization_status"], r["contact_status"]) for r in report} == {("unchanged", "unchanged")}


def test_clear_removes_a_list_item_taken_out_of_the_cell_and_keep_does_not(
    sb: Sandbox, tmp_path: Path, first: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """A tag removed from Account Tags stays in Genesys under keep (lists only gain items) and is removed
    under clear, where the cell's list replaces the stored one; the stored order is the cell's."""
    rows = [list(r) for r in ROWS]
    for row in rows[:2]:
        row[HEADERS.index("Account Tags")] = "north"
    trimmed = _write(tmp_path / "contacts.csv", rows)
    _import(sb, tmp_path, trimmed, "--blanks", "keep")
    assert _stored(sb)[("organization", "A-1")]["tags"] == ["vip", "north"]
    _import(sb, tmp_path, trimmed, "--blanks", "clear")
    assert _stored(sb)[("organization", "A-1")]["tags"] == ["north"]
    assert _stored(sb)[("organization", "A-2")]["tags"] == ["south"]
