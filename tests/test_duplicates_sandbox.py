"""``duplicates`` and ``merge`` end to end: the CLI over real HTTP against the sandbox on 127.0.0.1, checked
against what the sandbox stores.

Duplicates are planted straight into the sandbox store: today its enrich refuses a second contact claiming
an email or phone another contact holds, although real tenants have such contacts (created before the
identifier rules, or by other channels), so the API cannot be used to make them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from pipeline.sandbox import (
    DEMO_EXTERNAL_SOURCE_NAME,
    SECOND_DIVISION_ID,
    Sandbox,
    SandboxConfig,
    run_sandbox,
)
from pipeline.sandbox.enrich import Outcome
from pipeline.sandbox.records import CONTACT, finalize

MERGE_ROUTE = "POST /api/v2/externalcontacts/contacts/merge"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def plant(sb: Sandbox, record_id: str, modified: str, division_id: str | None = None, **fields: Any) -> None:
    """Store one contact as the API would return it, without the identifier-claim check of enrich."""
    record = finalize(
        CONTACT,
        fields,
        record_id=record_id,
        division=sb.store.division(division_id),  # type: ignore[arg-type]
        create_date="2026-01-01T00:00:00.000Z",
        modify_date=modified,
    )
    sb.store.apply(Outcome(CONTACT, record, created=True))


def ext(sb: Sandbox, value: str, source: str | None = None) -> list[dict[str, Any]]:
    return [{"externalSource": {"id": source or sb.external_source_id}, "value": value}]


def plant_duplicates(sb: Sandbox) -> None:
    """Three groups and a loner: an email in two cases, a phone in two formats, a family's shared phone."""
    plant(sb, "c-ana", "2026-01-02T00:00:00.000Z", firstName="Ana", lastName="García",
          workEmail="ana@example.com", externalIds=ext(sb, "C-1"))  # fmt: skip
    plant(sb, "c-ana2", "2026-03-01T00:00:00.000Z", firstName="ana", lastName="GARCIA",
          personalEmail=" ANA@Example.com ", title="Buyer")  # fmt: skip
    plant(sb, "c-bob", "2026-01-03T00:00:00.000Z", firstName="Bob", lastName="Stone", title="CTO",
          workPhone={"display": "+44 20 7946 0018", "e164": "+442079460018", "countryCode": "GB"},
          middleName="J")  # fmt: skip
    plant(sb, "c-bob2", "2026-01-04T00:00:00.000Z", firstName="Bob", lastName="Stone",
          cellPhone={"display": "020 7946 0018"}, address={"countryCode": "GB"},
          externalIds=ext(sb, "C-2"))  # fmt: skip
    plant(sb, "c-carol", "2026-01-05T00:00:00.000Z", firstName="Carol", lastName="Smith",
          homePhone={"display": "+1 415 555 0100", "e164": "+14155550100"},
          externalIds=ext(sb, "C-3"))  # fmt: skip
    plant(sb, "c-dan", "2026-01-06T00:00:00.000Z", firstName="Dan", lastName="Jones",
          homePhone={"display": "(415) 555-0100"})  # fmt: skip
    plant(sb, "c-eve", "2026-01-07T00:00:00.000Z", firstName="Eve", workEmail="eve@example.com")


def run(sb: Sandbox, *args: str) -> Result:
    connection = ["--base-url", sb.base_url, "--client-id", sb.client_id, "--rate-limit", "0"]
    env = {"GENESYS_CLIENT_SECRET": sb.client_secret, "GENESYS_REGION": ""}
    return CliRunner().invoke(cli, [*args, *connection], env=env)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def find_duplicates(sb: Sandbox, tmp_path: Path) -> tuple[Path, dict[str, dict[str, str]]]:
    out = tmp_path / "duplicates.csv"
    result = run(sb, "duplicates", "--out", str(out), "--external-source", DEMO_EXTERNAL_SOURCE_NAME)
    assert result.exit_code == 0, result.output
    return out, {row["genesys_contact_id"]: row for row in read_rows(out)}


def test_duplicates_finds_planted_groups_with_scores_and_survivors(sb: Sandbox, tmp_path: Path) -> None:
    """Each planted pair is one group, the contact with the import's ExternalId is its survivor, and the
    family sharing a phone is listed but not suggested for merging."""
    plant_duplicates(sb)
    out, rows = find_duplicates(sb, tmp_path)
    assert set(rows) == {"c-ana", "c-ana2", "c-bob", "c-bob2", "c-carol", "c-dan"}, "the loner is not listed"
    groups = {cid: row["group"] for cid, row in rows.items()}
    assert groups["c-ana"] == groups["c-ana2"] != groups["c-bob"] == groups["c-bob2"]
    assert groups["c-carol"] == groups["c-dan"] not in (groups["c-ana"], groups["c-bob"])
    survivors = {cid for cid, row in rows.items() if row["survivor"] == "yes"}
    # c-bob is the more complete of the two, but c-bob2 holds an ExternalId of the import's source.
    assert survivors == {"c-ana", "c-bob2", "c-carol"}
    order = [row["genesys_contact_id"] for row in read_rows(out)]
    assert all(order.index(s) < order.index(o) for s, o in (("c-ana", "c-ana2"), ("c-bob2", "c-bob")))
    assert (rows["c-ana2"]["score"], rows["c-ana2"]["factors"]) == ("65", "email; last_name; first_name")
    assert (rows["c-bob"]["score"], rows["c-bob"]["factors"]) == ("50", "phone; last_name; first_name")
    assert (rows["c-dan"]["score"], rows["c-dan"]["keep"]) == ("25", "no")
    assert rows["c-ana2"]["keep"] == rows["c-bob"]["keep"] == "yes"
    assert rows["c-ana2"]["emails"] == "ana@example.com"
    assert rows["c-bob"]["phones"] == "+442079460018"
    assert rows["c-ana"]["external_ids"] == "C-1"
    assert rows["c-ana"]["type"] == "Curated"
    assert sb.stats.requests.get(MERGE_ROUTE, 0) == 0


def test_duplicates_html_page_is_self_contained_and_escaped(sb: Sandbox, tmp_path: Path) -> None:
    """The HTML page fetches nothing and shows markup typed into a name as text."""
    plant(sb, "c-1", "2026-01-01T00:00:00.000Z", firstName="<script>x</script>", workEmail="a@example.com")
    plant(sb, "c-2", "2026-01-02T00:00:00.000Z", firstName="Al", workEmail="A@example.com")
    page = tmp_path / "dupes.html"
    result = run(sb, "duplicates", "--out", str(tmp_path / "d.csv"), "--html", str(page))
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;x&lt;/script&gt;" in text
    assert "<script>" not in text
    assert not re.search(r"(src|href)=|https?://", text)


def keep_only(path: Path, keep: set[str]) -> None:
    """What the person does: set keep=yes on the given contacts and keep=no on every other row."""
    rows = read_rows(path)
    for row in rows:
        row["keep"] = "yes" if row["genesys_contact_id"] in keep else "no"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_merge_without_yes_sends_no_write(sb: Sandbox, tmp_path: Path) -> None:
    """A dry run reports would_merge for the kept groups and the sandbox receives no merge request."""
    plant_duplicates(sb)
    out, _ = find_duplicates(sb, tmp_path)
    before = {c["id"]: c for c in sb.store.all("contacts")}
    report = tmp_path / "dry.csv"
    result = run(sb, "merge", str(out), "--report", str(report))
    assert result.exit_code == 0, result.output
    assert sb.stats.requests.get(MERGE_ROUTE, 0) == 0
    assert not any(route.startswith(("POST", "PUT", "DELETE")) and "/oauth/" not in route
                   for route in sb.stats.requests)  # fmt: skip
    assert {c["id"]: c for c in sb.store.all("contacts")} == before
    statuses = {row["genesys_contact_id"]: row["merge_status"] for row in read_rows(report)}
    assert statuses == {
        "c-ana": "would_merge", "c-ana2": "would_merge", "c-bob2": "would_merge", "c-bob": "would_merge",
        "c-carol": "skipped", "c-dan": "skipped",
    }  # fmt: skip


def test_merge_yes_leaves_one_contact_with_the_survivors_external_ids(sb: Sandbox, tmp_path: Path) -> None:
    """After --yes each kept group is one stored contact holding the survivor's ExternalIds and names, the
    merged ids are gone from the store, and running the same file again merges nothing twice."""
    plant_duplicates(sb)
    out, _ = find_duplicates(sb, tmp_path)
    report = tmp_path / "merged.csv"
    result = run(sb, "merge", str(out), "--yes", "--report", str(report))
    assert result.exit_code == 0, result.output
    rows = {row["genesys_contact_id"]: row for row in read_rows(report)}
    assert {cid: r["merge_status"] for cid, r in rows.items()} == {
        "c-ana": "merged", "c-ana2": "merged", "c-bob2": "merged", "c-bob": "merged",
        "c-carol": "skipped", "c-dan": "skipped",
    }  # fmt: skip
    stored = {c["id"]: c for c in sb.store.all("contacts")}
    assert set(stored) == {"c-carol", "c-dan", "c-eve", rows["c-ana"]["merged_contact_id"],
                           rows["c-bob"]["merged_contact_id"]}  # fmt: skip
    ana = stored[rows["c-ana2"]["merged_contact_id"]]
    assert [e["value"] for e in ana["externalIds"]] == ["C-1"]
    assert (ana["firstName"], ana["lastName"]) == ("Ana", "García"), "the survivor's names, not the newest"
    assert ana["title"] == "Buyer", "a field only the other contact had is kept"
    bob = stored[rows["c-bob"]["merged_contact_id"]]
    assert [e["value"] for e in bob["externalIds"]] == ["C-2"]
    assert bob["title"] == "CTO"
    assert sb.store.resolve("contacts", "c-bob")["id"] == bob["id"]  # type: ignore[index]
    assert sb.stats.requests[MERGE_ROUTE] == 2

    again = run(sb, "merge", str(out), "--yes", "--report", str(tmp_path / "again.csv"))
    assert again.exit_code == 0, again.output
    assert {r["merge_status"] for r in read_rows(tmp_path / "again.csv")} == {"skipped"}
    assert sb.stats.requests[MERGE_ROUTE] == 2, "an already merged group is not sent again"


def test_merge_refused_by_genesys_is_reported_not_forced(sb: Sandbox, tmp_path: Path) -> None:
    """Contacts of two divisions share an email; Genesys refuses to merge them: the group is refused, exit 1,
    and both contacts are still stored."""
    plant(sb, "c-1", "2026-01-01T00:00:00.000Z", firstName="Ann", lastName="Lee", workEmail="ann@example.com")
    plant(sb, "c-2", "2026-01-02T00:00:00.000Z", SECOND_DIVISION_ID, firstName="Ann", lastName="Lee",
          workEmail="ann@example.com")  # fmt: skip
    out, _ = find_duplicates(sb, tmp_path)
    report = tmp_path / "r.csv"
    result = run(sb, "merge", str(out), "--yes", "--report", str(report))
    assert result.exit_code == 1, result.output
    assert {(r["merge_status"], r["error_code"]) for r in read_rows(report)} == {("refused", "invalid.value")}
    assert {c["id"] for c in sb.store.all("contacts")} == {"c-1", "c-2"}
    assert sb.stats.requests[MERGE_ROUTE] == 1, "sent once, never retried or forced"


def test_merge_whose_answer_is_lost_is_settled_by_reading_the_survivor(tmp_path: Path) -> None:
    """The sandbox merges, then drops the connection: the merge is not sent again, and the row still says
    merged with the new contact's id, read back from the survivor's old id."""
    config = SandboxConfig(rate_limit=0, fault_rate=1.0, fault_kinds=("drop_after_write",))
    with run_sandbox(config) as sb:
        plant(sb, "c-1", "2026-01-01T00:00:00.000Z", firstName="Ann", workEmail="ann@example.com",
              externalIds=ext(sb, "C-9"))  # fmt: skip
        plant(sb, "c-2", "2026-01-02T00:00:00.000Z", firstName="Ann", workEmail="ANN@example.com")
        out, _ = find_duplicates(sb, tmp_path)
        report = tmp_path / "r.csv"
        result = run(sb, "merge", str(out), "--yes", "--report", str(report))
        assert result.exit_code == 0, result.output
        assert sb.stats.requests[MERGE_ROUTE] == 1
        assert sb.stats.faults.get("drop_after_write") == 1, "the merge's answer was really lost"
        stored = sb.store.all("contacts")
    assert len(stored) == 1
    assert [e["value"] for e in stored[0]["externalIds"]] == ["C-9"]
    assert {(r["merge_status"], r["merged_contact_id"]) for r in read_rows(report)} == {
        ("merged", stored[0]["id"])
    }
