"""The pure planning of ``--delete-missing``: which keys count as present, the guard, and the plan."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ConfigError
from pipeline.fields import load_specs
from pipeline.importing.deleted_file import DeleteResult, write_deleted_file
from pipeline.importing.deletions import (
    DeleteGuard,
    PresentKeys,
    StoredIndex,
    plan_deletions,
    present_keys,
)
from pipeline.prepare.stage import PrepareOptions, prepare_file

SOURCE_ID = "src-1"


def _record(id_: str, key: str | None, org: str | None = None, source: str = SOURCE_ID) -> dict[str, Any]:
    record: dict[str, Any] = {"id": id_, "division": {"id": "d1"}}
    if key is not None:
        record["externalIds"] = [{"externalSource": {"id": source}, "value": key}]
    if org is not None:
        record["externalOrganization"] = {"id": org}
    return record


def test_keys_of_invalid_rows_count_as_present(tmp_path: Path) -> None:
    """A row that failed validation still names its Contact ID and Account ID: neither is missing."""
    path = tmp_path / "in.csv"
    path.write_text(
        "Contact ID,Contact Last Name,Contact Work Email,Account ID,Account Name\n"
        "C-1,Berg,not an email,A-1,Acme\nC-2,Dahl,bob@example.com,A-2,Bolt\n",
        encoding="utf-8",
    )
    prepared = prepare_file(path, PrepareOptions())
    assert prepared.failures.height  # the first row is invalid
    present = present_keys(prepared.normalized)
    assert present.contacts == {"C-1", "C-2"}
    assert present.organizations == {"A-1", "A-2"}


@pytest.mark.parametrize(
    ("value", "stored", "allowed"),
    [("5%", 100, 5), ("5%", 19, 0), ("12", 3, 12), ("0", 50, 0), ("100%", 7, 7), ("2.5%", 200, 5)],
)
def test_the_guard_allows_a_count_or_a_share_rounded_down(value: str, stored: int, allowed: int) -> None:
    """--max-delete N allows N records; P% allows P% of the source's records, never rounded up."""
    assert DeleteGuard.parse(value).allowed(stored) == allowed


@pytest.mark.parametrize("value", ["", "-1", "1.5", "five", "101%", "5 %%"])
def test_a_malformed_guard_is_a_usage_error(value: str) -> None:
    """Anything but a whole number or a percentage up to 100% is refused with the option's name."""
    with pytest.raises(ConfigError, match="--max-delete"):
        DeleteGuard.parse(value)


def test_the_plan_deletes_only_this_sources_missing_records_and_keeps_linked_organizations() -> None:
    """Missing records of the source go (contacts first); other sources, records without ExternalId and
    records of another division are never planned; a missing organization a staying contact links to is
    kept with its reason, one whose only contacts go is deleted."""
    present = PresentKeys(frozenset({"C-1"}), frozenset({"A-1"}))
    index = StoredIndex(present, SOURCE_ID, division_id="d1")
    index.add("organization", [_record("o1", "A-1"), _record("o2", "A-2"), _record("o3", "A-3")])
    index.add("organization", [_record("o4", "X-1", source="other"), _record("o5", None)])
    index.add(
        "contact",
        [
            _record("c1", "C-1", "o1"),
            _record("c2", "C-2", "o2"),  # missing, and A-2's only contact
            _record("c3", None, "o3"),  # no ExternalId: keeps A-3 alive
            _record("c4", "C-4", "o4", source="other"),
            {**_record("c5", "C-5", "o1"), "division": {"id": "d2"}},  # another division
        ],
    )
    plan = plan_deletions(index, DeleteGuard.parse("50%"))
    assert [d.key for d in plan.contacts] == ["C-2"]
    assert [d.key for d in plan.organizations] == ["A-2"]
    assert [(d.key, "link" in why) for d, why in plan.kept] == [("A-3", True)]
    assert plan.source_records == 5  # C-1, C-2, A-1, A-2, A-3
    assert (plan.count, plan.allowed, plan.over_guard) == (2, 2, False)
    assert plan_deletions(index, DeleteGuard.parse("1")).over_guard


def test_a_resumed_run_keeps_the_rows_an_earlier_session_deleted(tmp_path: Path) -> None:
    """The .deleted.csv a resume writes still holds what the interrupted session deleted (gone from the
    target, so the new scan no longer sees it), formula-looking values round-tripped exactly."""
    specs = load_specs()
    path = tmp_path / "reconciliation.deleted.csv"

    def plan_of(contact: dict[str, Any]) -> Any:
        index = StoredIndex(PresentKeys(frozenset(), frozenset()), SOURCE_ID)
        index.add("contact", [contact])
        return plan_deletions(index, DeleteGuard.parse("100%"))

    first = {**_record("c1", "C-1"), "lastName": "=SUM(A1)"}
    write_deleted_file(path, plan_of(first), {("contact", "C-1"): DeleteResult("deleted")}, specs)
    write_deleted_file(path, plan_of(_record("c2", "C-2")), {}, specs, carry=True)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["Contact ID"], r["delete_status"]) for r in rows] == [("C-1", "deleted"), ("C-2", "")]
    assert rows[0]["Contact Last Name"] == "'=SUM(A1)"
