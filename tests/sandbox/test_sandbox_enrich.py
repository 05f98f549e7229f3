"""The enrich core without HTTP: actions per number of matches, identifier claims, field rules,
validation and merges, run directly against a :class:`Store`."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sandbox_ops import SOURCE, contact_op, email_id, ext_id, org_op

from pipeline.sandbox import DEMO_CONTACT_SCHEMA_ID, SECOND_DIVISION_ID, Store
from pipeline.sandbox.bulk import run_bulk
from pipeline.sandbox.enrich import Outcome, enrich, merge
from pipeline.sandbox.fieldrules import combine_array
from pipeline.sandbox.problems import EntityError
from pipeline.sandbox.records import CONTACT, ORGANIZATION, Kind

_ticks = itertools.count()
START = datetime(2024, 1, 1, tzinfo=UTC)


def now() -> str:
    """Strictly increasing timestamps, so 'most recently modified' is well defined."""
    return (START + timedelta(seconds=next(_ticks))).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ids() -> str:
    return f"id-{next(_ticks)}"


def apply(store: Store, op: dict[str, Any], kind: Kind = CONTACT) -> Outcome:
    outcome = enrich(store, kind, op, now=now(), new_id=ids)
    store.apply(outcome)
    return outcome


def fails(store: Store, op: dict[str, Any], kind: Kind = CONTACT) -> EntityError:
    with pytest.raises(EntityError) as info:
        enrich(store, kind, op, now=now(), new_id=ids)
    return info.value


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def two(store: Store) -> tuple[str, str]:
    """Contact A claims ExternalId A, contact B claims Email b@example.com."""
    a = apply(store, contact_op("A", firstName="Ann")).record["id"]
    b = apply(store, contact_op("B", firstName="Bob", workEmail="b@example.com")).record["id"]
    return a, b


def both(action: str, **fields: Any) -> dict[str, Any]:
    """An operation whose identifiers match A (first) and B (second)."""
    op = contact_op("A", action, identifiers=[ext_id("A"), email_id("b@example.com")], **fields)
    op["contact"].pop("externalIds")
    return op


# --- actions on 0 / 1 / 2 matches ------------------------------------------------------------------


@pytest.mark.parametrize(("action", "status"), [("Insert", 201), ("Upsert", 201), ("Merge", 201)])
def test_creating_actions_create_on_no_match(store: Store, action: str, status: int) -> None:
    """Insert, Upsert and Merge create a record when no identifier matches."""
    outcome = apply(store, contact_op("C1", action, firstName="Cy"))
    assert outcome.status == status
    assert store.count("contacts") == 1
    assert store.all("contacts")[0]["firstName"] == "Cy"


def test_update_fails_on_no_match(store: Store) -> None:
    """Update with no match is a 404 not.found and creates nothing."""
    err = fails(store, contact_op("C1", "Update", firstName="Cy"))
    assert (err.status, err.code, err.retryable) == (404, "not.found", False)
    assert store.count("contacts") == 0


def test_insert_fails_on_one_match(store: Store, two: tuple[str, str]) -> None:
    """Insert fails with 409 entity.exists when a record already claims the identifier."""
    err = fails(store, contact_op("A", "Insert", firstName="Again"))
    assert (err.status, err.code) == (409, "entity.exists")
    assert store.get("contacts", two[0])["firstName"] == "Ann"


@pytest.mark.parametrize("action", ["Update", "Upsert", "Merge"])
def test_updating_actions_update_the_one_match(store: Store, two: tuple[str, str], action: str) -> None:
    """Update, Upsert and Merge update the single matching record (status 200, same id)."""
    outcome = apply(store, contact_op("A", action, lastName="Lee"))
    assert (outcome.status, outcome.record["id"]) == (200, two[0])
    assert store.get("contacts", two[0])["lastName"] == "Lee"
    assert store.count("contacts") == 2


def test_insert_fails_on_two_matches(store: Store, two: tuple[str, str]) -> None:
    """Insert fails on two matches too, naming both."""
    err = fails(store, both("Insert", firstName="X"))
    assert err.code == "entity.exists"
    assert {d["value"] for d in err.details} == set(two)


@pytest.mark.parametrize("action", ["Update", "Upsert"])
def test_update_and_upsert_change_the_first_of_two_matches(
    store: Store, two: tuple[str, str], action: str
) -> None:
    """With two matches, Update and Upsert change only the record found by the earliest identifier."""
    outcome = apply(store, both(action, title="Boss"))
    assert outcome.record["id"] == two[0]
    assert store.get("contacts", two[0])["title"] == "Boss"
    assert "title" not in store.get("contacts", two[1])


def test_identifier_order_decides_the_first_match(store: Store, two: tuple[str, str]) -> None:
    """Listing the Email identifier first makes its owner the first match."""
    op = both("Update", title="Boss")
    op["matchingIdentifiers"].reverse()
    assert apply(store, op).record["id"] == two[1]


def test_merge_on_two_matches_merges_them_into_a_new_contact(store: Store, two: tuple[str, str]) -> None:
    """Merge on two matches replaces both by one new contact holding both claims, then applies the data."""
    outcome = apply(store, both("Merge", title="Boss"))
    merged = outcome.record
    assert outcome.status == 200
    assert merged["id"] not in two
    assert {m["id"] for m in merged["mergedFrom"]} == set(two)
    assert store.count("contacts") == 1
    assert (merged["firstName"], merged["workEmail"], merged["title"]) == ("Bob", "b@example.com", "Boss")
    assert {e["value"] for e in merged["externalIds"]} == {"A", "B"}
    assert store.resolve("contacts", two[0])["id"] == merged["id"]
    assert apply(store, contact_op("A", "Update", lastName="Z")).record["id"] == merged["id"]


def test_organizations_accept_no_merge_and_only_external_ids(store: Store) -> None:
    """Organizations reject the Merge action and identifiers other than ExternalId."""
    assert fails(store, org_op("O1", action="Merge"), ORGANIZATION).code == "bad.request"
    op = org_op("O1")
    op["matchingIdentifiers"] = [email_id("x@example.com")]
    assert fails(store, op, ORGANIZATION).code == "bad.request"


@pytest.mark.parametrize(("count", "status"), [(0, 201), (1, 200)])
def test_organization_upsert(store: Store, count: int, status: int) -> None:
    """Organization Upsert creates on no match and updates on one."""
    for _ in range(count):
        apply(store, org_op("O1"), ORGANIZATION)
    assert apply(store, org_op("O1", name="Acme Ltd"), ORGANIZATION).status == status
    assert [o["name"] for o in store.all("organizations")] == ["Acme Ltd"]


def test_upsert_replay_is_idempotent(store: Store) -> None:
    """Replaying an Upsert keyed by ExternalId finds the record it created and updates it."""
    op = contact_op("C1", firstName="Cy", workEmail="cy@example.com")
    first, second = apply(store, op), apply(store, op)
    assert (first.status, second.status) == (201, 200)
    assert first.record["id"] == second.record["id"]
    assert store.count("contacts") == 1


# --- identifier claims -----------------------------------------------------------------------------


def test_a_second_record_cannot_claim_an_external_id(store: Store, two: tuple[str, str]) -> None:
    """A write that would give a second record an ExternalId already claimed fails with 409."""
    op = contact_op("NEW", firstName="Dup")
    op["contact"]["externalIds"].append({"externalSource": SOURCE, "value": "A"})
    err = fails(store, op)
    assert (err.status, err.code, err.retryable) == (409, "identifier.conflict", False)
    assert err.details[0]["fieldName"] == "contact.externalIds[1].value"
    assert store.count("contacts") == 2


def _claimed(store: Store, record_id: str) -> set[tuple[str, str]]:
    record = store.get("contacts", record_id)
    assert record is not None
    return {(i["type"], i["value"]) for i in record["identifiers"]}


def test_a_shared_email_or_phone_stays_with_the_contact_that_claimed_it_first(
    store: Store, two: tuple[str, str]
) -> None:
    """A second contact with the same email (any case) or phone is written and carries it unclaimed."""
    _, b = two
    c = apply(store, contact_op("C", workEmail="B@Example.COM")).record
    assert c["workEmail"] == "B@Example.COM"
    assert ("Email", "b@example.com") in _claimed(store, b)
    assert _claimed(store, c["id"]) == {("ExternalId", "C")}
    p1 = apply(store, contact_op("P1", cellPhone={"display": "+1 415 555 0100"})).record["id"]
    p2 = apply(store, contact_op("P2", workPhone={"display": "(415) 555-0100"})).record["id"]
    assert ("Phone", "+14155550100") in _claimed(store, p1)
    assert ("Phone", "+14155550100") not in _claimed(store, p2)


def test_strict_claims_refuse_a_shared_email_or_phone() -> None:
    """With strict claims an email or phone another contact holds makes the write fail with 409."""
    store = Store(strict_claims=True)
    apply(store, contact_op("B", workEmail="b@example.com"))
    assert fails(store, contact_op("C", workEmail="B@Example.COM")).code == "identifier.conflict"
    apply(store, contact_op("P1", cellPhone={"display": "+1 415 555 0100"}))
    err = fails(store, contact_op("P2", workPhone={"display": "(415) 555-0100"}))
    assert err.details[0]["value"] == "+14155550100"


def test_a_contact_keeps_its_claims_when_its_fields_change(store: Store, two: tuple[str, str]) -> None:
    """Claims stay until released: changing the email adds a claim and keeps the old one."""
    _, b = two
    apply(store, contact_op("B", workEmail="new@example.com"))
    assert {("Email", "b@example.com"), ("Email", "new@example.com")} <= _claimed(store, b)


def test_claims_are_scoped_by_division_source_and_kind(store: Store) -> None:
    """The same value may be claimed in another division, from another source, or by an organization."""
    apply(store, contact_op("K1"))
    other_division = contact_op("K1")
    other_division["division"] = {"id": SECOND_DIVISION_ID}
    assert apply(store, other_division).status == 201
    apply(store, org_op("K1"), ORGANIZATION)
    assert (store.count("contacts"), store.count("organizations")) == (2, 1)


# --- field rules -----------------------------------------------------------------------------------


def seeded(store: Store) -> None:
    apply(store, contact_op("C1", firstName="Ann", title="CEO", address={"city": "Oslo", "state": "OS"}))


def test_default_rules_keep_stored_values_for_null_and_omitted(store: Store) -> None:
    """PreferProvided: provided values win, null and omitted ones leave stored values alone."""
    seeded(store)
    record = apply(store, contact_op("C1", firstName="Anna", title=None)).record
    assert (record["firstName"], record["title"], record["address"]["city"]) == ("Anna", "CEO", "Oslo")


def test_prefer_existing_only_fills_gaps(store: Store) -> None:
    """PreferExisting keeps stored values and fills only empty fields."""
    seeded(store)
    op = contact_op("C1", firstName="Anna", lastName="Berg")
    op["fieldRules"] = {"defaultAction": "PreferExisting"}
    record = apply(store, op).record
    assert (record["firstName"], record["lastName"]) == ("Ann", "Berg")


def test_always_use_provided_clears_with_null(store: Store) -> None:
    """AlwaysUseProvided: null and omitted clear the stored value."""
    seeded(store)
    op = contact_op("C1", firstName="Anna", title=None)
    op["fieldRules"] = {"defaultAction": "AlwaysUseProvided"}
    record = apply(store, op).record
    assert record["firstName"] == "Anna"
    assert "title" not in record
    assert "address" not in record


def test_a_field_rule_overrides_the_default_for_one_nested_field(store: Store) -> None:
    """A rule on $.address.city applies to that field only; siblings follow the default."""
    seeded(store)
    op = contact_op("C1", address={"state": None, "city": None})
    op["fieldRules"] = {"rules": [{"field": "$.address.city", "action": "AlwaysUseProvided"}]}
    assert apply(store, op).record["address"] == {"state": "OS"}


def test_array_rules_fill_extend_replace() -> None:
    """Fill keeps stored items at the limit, Extend drops the oldest, Replace takes the provided array."""
    old, new = ["a", "b", "c"], ["c", "d", "e"]
    assert combine_array("PreferProvided", "Fill", old, new, 4) == ["a", "b", "c", "d"]
    assert combine_array("PreferProvided", "Extend", old, new, 4) == ["b", "c", "d", "e"]
    assert combine_array("PreferProvided", "Replace", old, new, 4) == ["c", "d", "e"]
    assert combine_array("PreferProvided", "Fill", old, None, 4) == old
    assert combine_array("AlwaysUseProvided", "Fill", old, None, 4) is None
    assert combine_array("PreferExisting", "Replace", old, new, 4) == old


def test_external_ids_fill_by_default(store: Store) -> None:
    """Sending a second external id adds it next to the first (Fill), keeping both claims."""
    apply(store, contact_op("C1"))
    op = contact_op("C1")
    op["contact"]["externalIds"] = [{"externalSource": SOURCE, "value": "C1-alt"}]
    record = apply(store, op).record
    assert [e["value"] for e in record["externalIds"]] == ["C1", "C1-alt"]
    assert [i["value"] for i in record["identifiers"]] == ["C1", "C1-alt"]


def test_bad_field_rules_are_a_bad_request(store: Store) -> None:
    """Unknown actions and paths that are not dotted are refused."""
    op = contact_op("C1")
    op["fieldRules"] = {"defaultAction": "Sometimes", "rules": [{"field": "address[0]"}]}
    err = fails(store, op)
    assert err.code == "bad.request"
    assert [d["fieldName"] for d in err.details] == ["fieldRules.defaultAction", "fieldRules.rules[0].field"]


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"firstName": "x" * 1001}, "contact.firstName"),
        ({"workEmail": "not-an-email"}, "contact.workEmail"),
        ({"externalSystemUrl": "ftp://example.com/x"}, "contact.externalSystemUrl"),
        ({"address": {"city": "c" * 101}}, "contact.address.city"),
        ({"surveyOptOut": "yes"}, "contact.surveyOptOut"),
        ({"workPhone": {"display": "1" * 513}}, "contact.workPhone.display"),
        ({"externalOrganization": {"id": "no-such-org"}}, "contact.externalOrganization.id"),
        ({"schema": {"id": "no-such-schema"}}, "contact.schema.id"),
        ({"customFields": {"loyalty_tier_text": "Gold"}}, "contact.schema"),
    ],
)
def test_field_values_are_validated(store: Store, fields: dict[str, Any], field_name: str) -> None:
    """Lengths, formats and references are checked; the error names the field."""
    err = fails(store, contact_op("C1", **fields))
    assert (err.status, err.code, err.retryable) == (400, "invalid.value", False)
    assert [d["fieldName"] for d in err.details] == [field_name]


def test_unknown_division_and_external_source_are_refused(store: Store) -> None:
    """A division or external source that does not exist is an invalid value."""
    op = contact_op("C1", identifiers=[ext_id("C1", "no-such-source")])
    op["division"] = {"id": "no-such-division"}
    err = fails(store, op)
    assert {d["fieldName"] for d in err.details} == {
        "division.id",
        "matchingIdentifiers[0].externalSource.id",
    }


def test_custom_fields_are_checked_against_the_schema(store: Store) -> None:
    """Custom fields must exist in the schema and fit their type; valid ones are stored."""
    schema = {"id": DEMO_CONTACT_SCHEMA_ID, "version": 1}
    bad = contact_op("C1", schema=schema, customFields={"vip_boolean": "yes", "nope_text": "x"})
    assert {d["fieldName"] for d in fails(store, bad).details} == {
        "contact.customFields.vip_boolean",
        "contact.customFields.nope_text",
    }
    good = {"loyalty_tier_text": "Gold", "customer_since_date": "2020-02-29", "vip_boolean": True}
    record = apply(store, contact_op("C1", schema=schema, customFields=good)).record
    assert record["customFields"] == good
    assert record["schema"] == schema


def test_organization_name_is_required_and_integers_checked(store: Store) -> None:
    """An organization needs a name; employeeCount must be an integer."""
    op = org_op("O1", name=None, employeeCount="12")
    assert {d["fieldName"] for d in fails(store, op, ORGANIZATION).details} == {
        "externalOrganization.employeeCount"
    }
    op = org_op("O1", name=None)
    assert fails(store, op, ORGANIZATION).details[0]["fieldName"] == "externalOrganization.name"


def test_phones_get_e164_when_they_parse(store: Store) -> None:
    """The server fills e164 and countryCode for numbers that parse (US without a country hint)."""
    record = apply(
        store,
        contact_op(
            "C1",
            workPhone={"display": "+44 20 7946 0958"},
            cellPhone={"display": "(415) 555-0100"},
            homePhone={"display": "call me maybe"},
        ),
    ).record
    assert (record["workPhone"]["e164"], record["workPhone"]["countryCode"]) == ("+442079460958", "GB")
    assert record["cellPhone"]["e164"] == "+14155550100"
    assert record["homePhone"] == {"display": "call me maybe"}


def test_contacts_link_to_organizations_by_id_only(store: Store) -> None:
    """externalOrganization.id links; an organization given only by externalIds is not linked."""
    org = apply(store, org_op("O1"), ORGANIZATION).record
    linked = apply(store, contact_op("C1", externalOrganization={"id": org["id"]})).record
    assert linked["externalOrganization"]["id"] == org["id"]
    by_ext = {"externalIds": [{"externalSource": SOURCE, "value": "O1"}]}
    assert "externalOrganization" not in apply(store, contact_op("C2", externalOrganization=by_ext)).record


# --- bulk and merge ---------------------------------------------------------------------------------


def test_bulk_runs_in_order_and_shuffles_results(store: Store) -> None:
    """Operations apply in request order; results come back in another order, paired by id."""
    ops = [contact_op(f"C{i}", firstName=f"N{i}") for i in range(5)]
    ops.append(contact_op("C0", "Insert"))  # sees the C0 created three lines up
    body = run_bulk(store, CONTACT, ops, dry_run=False, now=now(), new_id=ids, rng=random.Random(1))
    order = [r["id"] for r in body["results"]]
    assert sorted(order) == sorted(op["id"] for op in ops)
    assert order != [op["id"] for op in ops]
    assert body["errorCount"] == 1
    failed = body["results"][body["errorIndexes"][0]]
    assert (failed["status"], failed["error"]["code"]) == (409, "entity.exists")
    assert failed["error"]["entity"] == ops[5]


def test_bulk_dry_run_changes_nothing(store: Store) -> None:
    """A dry run reports 201 for what it would create and stores nothing."""
    body = run_bulk(
        store, CONTACT, [contact_op("C1")], dry_run=True, now=now(), new_id=ids, rng=random.Random(0)
    )
    assert body["results"][0]["status"] == 201
    assert store.count("contacts") == 0


def test_merge_request_moves_conflicting_emails_to_free_slots(store: Store) -> None:
    """Merging keeps the newest value per field and moves a losing email to a free email field."""
    a = apply(store, contact_op("A", firstName="Old", workEmail="a@example.com")).record["id"]
    b = apply(store, contact_op("B", firstName="New", workEmail="b@example.com")).record["id"]
    outcome = merge(store, [a, b], {"lastName": "Merged"}, now=now(), new_id=ids)
    record = outcome.record
    assert (record["firstName"], record["lastName"]) == ("New", "Merged")
    assert (record["workEmail"], record["personalEmail"]) == ("b@example.com", "a@example.com")
    with pytest.raises(EntityError, match=r"not\.found"):
        merge(store, [a, "missing"], None, now=now(), new_id=ids)
    with pytest.raises(EntityError, match=r"bad\.request"):
        merge(store, [a], None, now=now(), new_id=ids)
