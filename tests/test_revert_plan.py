"""The pure planning of ``runs revert``: which records are deleted, restored or left, and the restore's
field rules."""

from __future__ import annotations

from pipeline.journal.images import BeforeImage, RunRecord
from pipeline.outcomes import Status
from pipeline.revert.plan import plan_revert, restore_operation

BEFORE = {
    "id": "g1", "firstName": "Ann", "title": "CEO", "address": {"city": "Oslo"},
    "externalIds": [{"externalSource": {"id": "s"}, "value": "C-1"}], "modifyDate": "2026-01-01",
}  # fmt: skip


def test_restore_rules_name_only_the_fields_that_differ() -> None:
    """A changed title and a filled city get AlwaysUseProvided rules (the city with a null value); the
    untouched first name gets no rule, and read-only parts are not sent."""
    now = {**BEFORE, "title": "Chair", "address": {"city": "Oslo", "postalCode": "0150"}, "modifyDate": "x"}
    op, fields = restore_operation(BeforeImage("contact", "C-1", "g1", "s", BEFORE), now)
    assert fields == ["address.postalCode", "title"]
    assert op["action"] == "Update"
    assert op["matchingIdentifiers"] == [
        {"type": "ExternalId", "value": "C-1", "externalSource": {"id": "s"}}
    ]
    assert op["contact"]["title"] == "CEO"
    assert op["contact"]["address"] == {
        "city": "Oslo",
        "postalCode": None,
    }
    assert "modifyDate" not in op["contact"]
    assert "id" not in op["contact"]
    assert {r["field"] for r in op["fieldRules"]["rules"]} == {"$.title", "$.address.postalCode"}


def test_a_list_the_run_emptied_is_replaced() -> None:
    """A list field differing gets arrayAction Replace, so the stored items do not combine with it."""
    org = {"id": "o1", "name": "Acme", "tags": ["vip"]}
    op, _ = restore_operation(
        BeforeImage("organization", "A-1", "o1", "s", org), {"id": "o1", "name": "Acme"}
    )
    assert op["fieldRules"]["rules"] == [
        {"field": "$.tags", "action": "AlwaysUseProvided", "arrayAction": "Replace"}
    ]


def test_plan_orders_contacts_first_and_leaves_unchanged_records_alone() -> None:
    """Created records are deleted (contacts first), updates without an image are skipped, unchanged and
    failed ones need nothing, and a record a later run wrote is skipped naming that run."""
    records = [
        RunRecord("organization", "A-9", Status.CREATED, "o9"),
        RunRecord("contact", "C-9", Status.CREATED, "c9"),
        RunRecord("contact", "C-1", Status.UPDATED, "c1"),
        RunRecord("contact", "C-2", Status.UNCHANGED, "c2"),
        RunRecord("contact", "C-3", Status.FAILED, None),
        RunRecord("contact", "C-5", Status.UPDATED, "c5"),
    ]
    stored = {("organization", "o9"): {"id": "o9"}, ("contact", "c9"): {"id": "c9"}, ("contact", "c1"): {}}
    steps = plan_revert(records, {}, stored, {"c5": 4})
    got = [(s.kind, s.key, s.action) for s in steps]
    assert got == [
        ("contact", "C-1", "skip"), ("contact", "C-2", "none"), ("contact", "C-3", "none"),
        ("contact", "C-5", "skip"), ("contact", "C-9", "delete"), ("organization", "A-9", "delete"),
    ]  # fmt: skip
    assert "revert run 4 first" in steps[3].message
