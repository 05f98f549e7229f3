"""``import --save-before`` and ``runs revert``, against the sandbox over HTTP, checking what the sandbox
stored before, during and after."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from pipeline.sandbox import DEMO_CONTACT_SCHEMA_ID, Sandbox, SandboxConfig, run_sandbox

HEADERS = [
    "Contact ID", "Contact First Name", "Contact Last Name", "Contact Title", "custom:loyalty_tier_text",
    "Account ID", "Account Name", "Account Industry", "Account Tags",
]  # fmt: skip
ROWS = [
    ["C-1", "Ann", "Berg", "CEO", "gold", "A-1", "Acme", "Retail", "vip;north"],
    ["C-2", "Bob", "Dahl", "CFO", "silver", "A-1", "Acme", "Retail", "vip;north"],
    ["C-3", "Cat", "Eng", "", "bronze", "A-2", "Bolt", "Energy", "south"],
]
WRITES = ("enrich", "DELETE")


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


def _second_rows() -> list[list[str]]:
    """C-1's title changed and its tier blanked, A-1's tags blanked, C-3 given a title it had not, and a
    new contact C-4 in a new account A-3."""
    rows = [list(r) for r in ROWS]
    rows[0][HEADERS.index("Contact Title")] = "Chair"
    rows[0][HEADERS.index("custom:loyalty_tier_text")] = ""
    for row in rows[:2]:
        row[HEADERS.index("Account Tags")] = ""
    rows[2][HEADERS.index("Contact Title")] = "CTO"
    return [*rows, ["C-4", "Dan", "Falk", "COO", "gold", "A-3", "Corp", "Media", "new"]]


def _cli(sb: Sandbox, *args: str) -> Result:
    runner = CliRunner(env={"GENESYS_CLIENT_SECRET": sb.client_secret, "GENESYS_REGION": None})
    return runner.invoke(cli, list(args), catch_exceptions=False)


def _connection(sb: Sandbox, tmp_path: Path) -> list[str]:
    return [
        "--base-url", sb.base_url, "--client-id", sb.client_id, "--rate-limit", "0",
        "--journal", str(tmp_path / "journal.db"),
    ]  # fmt: skip


def _import(sb: Sandbox, tmp_path: Path, csv_path: Path, *extra: str) -> None:
    result = _cli(
        sb, "import", str(csv_path), "--create-source", "--contact-schema", DEMO_CONTACT_SCHEMA_ID,
        "--report", str(tmp_path / "out" / "reconciliation.csv"), *_connection(sb, tmp_path), *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def _revert(sb: Sandbox, tmp_path: Path, run_id: int, *extra: str) -> Result:
    return _cli(sb, "runs", "revert", str(run_id), *_connection(sb, tmp_path), *extra)


def _stored(sb: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    """Every stored record by (kind, key), without the date every write changes."""
    stored = {}
    for kind, collection in (("contact", "contacts"), ("organization", "organizations")):
        for record in sb.store.all(collection):
            fields = {k: v for k, v in record.items() if k != "modifyDate"}
            stored[(kind, record["externalIds"][0]["value"])] = fields
    return stored


def _writes(sb: Sandbox) -> int:
    return sum(n for route, n in sb.stats.requests.items() if any(w in route for w in WRITES))


def _rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {(r["kind"], r["key"]): r for r in csv.DictReader(handle)}


@pytest.fixture
def changed(sb: Sandbox, tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Run 1 creates the records; run 2 (--save-before --blanks clear) changes, clears, fills and creates.
    Returns what the sandbox stored after run 1."""
    _import(sb, tmp_path, _write(tmp_path / "first.csv", ROWS))
    first = _stored(sb)
    _import(
        sb, tmp_path, _write(tmp_path / "second.csv", _second_rows()), "--save-before", "--blanks", "clear"
    )
    now = _stored(sb)
    assert now[("contact", "C-1")]["title"] == "Chair"
    assert "customFields" not in now[("contact", "C-1")]
    assert "tags" not in now[("organization", "A-1")]
    assert now[("contact", "C-3")]["title"] == "CTO"
    assert ("contact", "C-4") in now
    assert ("organization", "A-3") in now
    return first


def test_revert_deletes_what_the_run_created_and_restores_what_it_updated(
    sb: Sandbox, tmp_path: Path, changed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """After `runs revert 2 --yes` the sandbox holds exactly what it held after run 1: the new contact and
    account are gone, the changed title, the blanked custom field and list are back, the filled title is
    cleared."""
    result = _revert(sb, tmp_path, 2, "--yes")
    assert result.exit_code == 0, result.output
    assert _stored(sb) == changed
    rows = _rows(tmp_path / "revert-2.csv")
    assert (rows[("contact", "C-4")]["action"], rows[("contact", "C-4")]["status"]) == ("delete", "done")
    assert rows[("organization", "A-3")]["action"] == "delete"
    assert (rows[("contact", "C-1")]["action"], rows[("contact", "C-1")]["status"]) == ("restore", "done")
    assert rows[("contact", "C-2")]["action"] == "none"  # run 2 did not change it


def test_reverting_twice_is_a_no_op(
    sb: Sandbox, tmp_path: Path, changed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """A second revert of the same run sends no request at all and says the run was already reverted."""
    assert _revert(sb, tmp_path, 2, "--yes").exit_code == 0
    before = sum(sb.stats.requests.values())
    again = _revert(sb, tmp_path, 2, "--yes")
    assert again.exit_code == 0, again.output
    assert "already reverted" in again.output
    assert sum(sb.stats.requests.values()) - before <= 1  # at most the token; no API call
    assert _stored(sb) == changed


def test_a_dry_revert_sends_no_write_and_says_what_it_would_do(
    sb: Sandbox, tmp_path: Path, changed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """Without --yes no enrich or DELETE request reaches the sandbox, nothing stored changes, and the CSV
    lists the planned deletes and restores."""
    stored, writes = _stored(sb), _writes(sb)
    out = tmp_path / "plan" / "revert.csv"
    result = _revert(sb, tmp_path, 2, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert _writes(sb) == writes
    assert _stored(sb) == stored
    rows = _rows(out)
    assert {k for k, r in rows.items() if r["action"] == "delete"} == {
        ("contact", "C-4"),
        ("organization", "A-3"),
    }
    assert rows[("contact", "C-1")]["status"] == "planned"
    assert "title" in rows[("contact", "C-1")]["message"]
    # Not marked reverted: the real one still acts.
    assert _revert(sb, tmp_path, 2, "--yes").exit_code == 0
    assert _stored(sb) == changed


def test_updates_without_before_images_are_listed_and_left_alone(sb: Sandbox, tmp_path: Path) -> None:
    """A run without --save-before: its updates are "cannot restore", its creations are still deleted,
    and an account its unrestorable contacts link to is kept."""
    _import(sb, tmp_path, _write(tmp_path / "first.csv", ROWS))
    second = _second_rows()
    second[1][HEADERS.index("Account ID") :] = ["A-3", "Corp", "Media", "new"]  # C-2 moves to the new A-3
    _import(sb, tmp_path, _write(tmp_path / "second.csv", second), "--blanks", "clear")
    result = _revert(sb, tmp_path, 2, "--yes")
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "revert-2.csv")
    assert rows[("contact", "C-1")]["action"] == "skip"
    assert "without --save-before" in rows[("contact", "C-1")]["message"]
    assert rows[("organization", "A-3")]["action"] == "skip"
    assert "C-2" in rows[("organization", "A-3")]["message"]
    stored = _stored(sb)
    assert stored[("contact", "C-1")]["title"] == "Chair"
    assert ("contact", "C-4") not in stored
    assert stored[("contact", "C-2")]["externalOrganization"]["id"] == stored[("organization", "A-3")]["id"]


def test_a_revert_against_another_target_is_refused(
    sb: Sandbox, tmp_path: Path, changed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """The run went to this sandbox; a revert aimed at another base URL exits 2 and sends nothing."""
    writes = _writes(sb)
    result = _cli(
        sb, "runs", "revert", "2", "--yes", "--base-url", "http://127.0.0.1:9", "--client-id", sb.client_id,
        "--journal", str(tmp_path / "journal.db"),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "sent its records to" in result.output
    assert _writes(sb) == writes


def test_before_images_hold_the_stored_state_read_before_the_write(
    sb: Sandbox, tmp_path: Path, changed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """The journal keeps, for each record run 2 wrote that existed, the record as run 1 left it; none for
    records run 2 created."""
    with sqlite3.connect(tmp_path / "journal.db") as db:
        rows = db.execute("SELECT kind, key, body FROM before_images WHERE run_id = 2").fetchall()
    keys = {(kind, key) for kind, key, _ in rows}
    assert ("contact", "C-1") in keys
    assert ("organization", "A-1") in keys
    assert ("contact", "C-4") not in keys
    assert ("organization", "A-3") not in keys
    body = next(b for kind, key, b in rows if key == "C-1")
    assert '"CEO"' in body
    assert '"gold"' in body


def test_a_version_3_journal_is_read_by_a_dry_revert_and_upgraded_by_a_real_one(
    sb: Sandbox, tmp_path: Path
) -> None:
    """A journal written before before-images existed still plans a revert (its updates cannot be
    restored) without being changed; `--yes` then upgrades it to version 4 and records the revert."""
    _import(sb, tmp_path, _write(tmp_path / "first.csv", ROWS))
    _import(sb, tmp_path, _write(tmp_path / "second.csv", _second_rows()))
    journal = tmp_path / "journal.db"
    with sqlite3.connect(journal) as db:
        db.executescript(
            "DROP TABLE before_images; DROP TABLE reverts; "
            "UPDATE meta SET value = '3' WHERE key = 'schema_version';"
        )
    dry = _revert(sb, tmp_path, 2)
    assert dry.exit_code == 0, dry.output
    assert "without --save-before" in _rows(tmp_path / "revert-2.csv")[("contact", "C-1")]["message"]
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
    assert _revert(sb, tmp_path, 2, "--yes").exit_code == 0
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "4"
        assert db.execute("SELECT run_id FROM reverts").fetchall() == [(2,)]
    assert ("contact", "C-4") not in _stored(sb)


def test_runs_and_runs_show_mark_a_reverted_run(
    sb: Sandbox, tmp_path: Path, changed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """After a revert, `runs` marks the run reverted and `runs show` says when and what the revert did;
    the run not reverted carries no mark."""
    journal = ["--journal", str(tmp_path / "journal.db")]
    assert "reverted" not in _cli(sb, "runs", *journal).output
    assert _revert(sb, tmp_path, 2, "--yes").exit_code == 0
    listed = _cli(sb, "runs", *journal).output.splitlines()
    (second,) = [line for line in listed if line.split()[:1] == ["2"]]
    (first,) = [line for line in listed if line.split()[:1] == ["1"]]
    assert "(reverted 20" in second
    assert "reverted" not in first
    shown = _cli(sb, "runs", *journal, "show", "2").output
    (line,) = [x for x in shown.splitlines() if x.startswith("reverted")]
    assert "delete 2 done" in line
    assert "restore" in line
    assert not any(
        x.startswith("reverted") for x in _cli(sb, "runs", *journal, "show", "1").output.splitlines()
    )
