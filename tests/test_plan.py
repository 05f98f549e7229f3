"""Plan: grouped records -> enrich operations."""

from __future__ import annotations

import gc
import json
from unittest.mock import patch

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.fields import load_specs
from pipeline.importing import plan as plan_module
from pipeline.importing.plan import (
    PlanOptions,
    batched,
    contact_operations,
    fingerprint_source,
    link_organization,
    organization_operations,
)

SPECS = load_specs()
OPTIONS = PlanOptions(external_source_id="src-1")


def _orgs() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "organization.externalId": ["ACC-1"],
            "organization.name": ["Acme"],
            "organization.employeeCount": ["42"],
            "organization.tags": ["retail;vip"],
            "organization.address.city": ["Dublin"],
            "organization.phoneNumber": ["+35312345678"],
            "source_rows": [[2, 3]],
        }
    )


def _contacts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contact.externalId": ["C-1", "C-2"],
            "contact.firstName": ["Ann", None],
            "contact.workPhone": ["+14155550123;ext=42", None],
            "contact.workEmail": ["ann@acme.com", None],
            "contact.surveyOptOut": ["true", None],
            "contact.customFields.loyalty_tier_text": ["gold", None],
            "organization.externalId": ["ACC-1", None],
            "source_rows": [[2], [4]],
        }
    )


def test_organization_operation_matches_on_account_id_as_external_id() -> None:
    """An organization is an Upsert matched by its Account ID under the configured external source."""
    (op,) = organization_operations(_orgs(), SPECS, OPTIONS)
    assert op.body["action"] == "Upsert"
    assert op.body["id"] == "ACC-1"
    assert op.body["matchingIdentifiers"] == [
        {"type": "ExternalId", "value": "ACC-1", "externalSource": {"id": "src-1"}}
    ]
    org = op.body["externalOrganization"]
    assert org["externalIds"] == [{"externalSource": {"id": "src-1"}, "value": "ACC-1"}]
    assert org["name"] == "Acme"
    assert org["employeeCount"] == 42
    assert org["tags"] == ["retail", "vip"]
    assert org["address"] == {"city": "Dublin"}
    assert org["phoneNumber"] == {"display": "+35312345678"}
    assert op.source_rows == (2, 3)


def test_contact_operation_types_fields_and_omits_nulls() -> None:
    """Contact fields are typed for the API and null cells are left out so stored values survive."""
    first, second = contact_operations(_contacts(), SPECS, OPTIONS)
    contact = first.body["contact"]
    assert contact["workPhone"] == {"display": "+14155550123", "extension": 42}
    assert contact["surveyOptOut"] is True
    assert contact["customFields"] == {"loyalty_tier_text": "gold"}
    assert first.organization_key == "ACC-1"
    assert set(second.body["contact"]) == {"externalIds"}
    assert second.organization_key is None


def test_strict_matching_plans_the_external_id_alone() -> None:
    """Under the default (strict) policy who a contact is gets decided before sending, so the operation
    matches by its ExternalId only and the API cannot pick another person by a shared phone."""
    options = PlanOptions(external_source_id="src-1", match=("email", "phone"))
    first, _ = contact_operations(_contacts(), SPECS, options)
    assert [i["type"] for i in first.body["matchingIdentifiers"]] == ["ExternalId"]


def test_match_option_adds_email_and_phone_identifiers_after_the_external_id() -> None:
    """--match email,phone with --match-policy any appends those identifiers after the ExternalId,
    phones without extension."""
    options = PlanOptions(external_source_id="src-1", match=("email", "phone"), match_policy="any")
    first, _ = contact_operations(_contacts(), SPECS, options)
    identifiers = first.body["matchingIdentifiers"]
    assert identifiers[0]["type"] == "ExternalId"
    assert identifiers[1:] == [
        {"type": "Email", "value": "ann@acme.com"},
        {"type": "Phone", "value": "+14155550123"},
    ]


def test_schema_reference_is_attached_only_to_records_with_custom_fields() -> None:
    """A record with custom fields carries the schema reference; one without does not."""
    options = PlanOptions(external_source_id="src-1", contact_schema={"id": "s1", "version": 1})
    first, second = contact_operations(_contacts(), SPECS, options)
    assert first.body["contact"]["schema"] == {"id": "s1", "version": 1}
    assert "schema" not in second.body["contact"]


def test_division_is_set_on_every_operation_when_given() -> None:
    """--division puts the division on each operation."""
    options = PlanOptions(external_source_id="src-1", division_id="div-9")
    (op,) = organization_operations(_orgs(), SPECS, options)
    assert op.body["division"] == {"id": "div-9"}


def test_linking_sets_the_organization_id_without_changing_the_fingerprint() -> None:
    """The Genesys organization id is linked at push time and is not part of the record's fingerprint."""
    first, _ = contact_operations(_contacts(), SPECS, OPTIONS)
    linked = link_organization(first, "org-guid")
    assert linked.body["contact"]["externalOrganization"] == {"id": "org-guid"}
    assert "externalOrganization" not in first.body["contact"]
    assert linked.fingerprint == first.fingerprint


def _fingerprints(frame: pl.DataFrame, options: PlanOptions = OPTIONS) -> dict[str, str]:
    return {op.key: op.fingerprint for op in contact_operations(frame, SPECS, options)}


def test_fingerprint_changes_with_the_data_and_the_account() -> None:
    """Changing a field, or moving a contact to another Account ID, changes its fingerprint only."""
    base = _fingerprints(_contacts())
    renamed = _fingerprints(_contacts().with_columns(pl.Series("contact.firstName", ["Anne", None])))
    moved = _fingerprints(_contacts().with_columns(pl.Series("organization.externalId", ["ACC-2", None])))
    assert renamed["C-1"] != base["C-1"]
    assert moved["C-1"] != base["C-1"]
    assert renamed["C-2"] == moved["C-2"] == base["C-2"]


def test_fingerprint_ignores_empty_columns_but_not_options() -> None:
    """An extra all-empty column leaves fingerprints alone; a different schema reference does not."""
    base = _fingerprints(_contacts())
    wider = _contacts().with_columns(pl.lit(None, dtype=pl.String).alias("contact.middleName"))
    assert _fingerprints(wider) == base
    other_schema = PlanOptions(external_source_id="src-1", contact_schema={"id": "s2", "version": 3})
    assert _fingerprints(_contacts(), other_schema)["C-1"] != base["C-1"]


def test_batches_cover_every_operation_once_in_groups_of_at_most_ten() -> None:
    """Batching 23 operations gives 10, 10, 3 with nothing lost or repeated."""
    ops = list(range(23))
    batches = list(batched(ops))  # type: ignore[arg-type]
    assert [len(b) for b in batches] == [10, 10, 3]
    assert [x for b in batches for x in b] == ops


def _fingerprint_inputs(records: list[dict[str, str | None]]) -> list[str]:
    """The fingerprint input text of each record (one row per record, columns in the given order)."""
    columns = sorted({c for record in records for c in record})
    rows = pl.DataFrame(
        [{c: record.get(c) for c in columns} for record in records], schema=dict.fromkeys(columns, pl.String)
    )
    return rows.select(fingerprint_source(columns, "salt")).to_series().to_list()


def test_values_holding_the_fingerprint_separators_do_not_collide() -> None:
    """A first name that spells out another field after a separator no longer equals that other field."""
    split = {"contact.externalId": "C-1", "contact.firstName": "Ann", "contact.lastName": "Lee"}
    joined = {"contact.externalId": "C-1", "contact.firstName": "Ann\x1econtact.lastName\x1fLee"}
    frame = pl.DataFrame([split, {**joined, "contact.lastName": None}]).with_columns(
        source_rows=pl.Series([[2], [2]])
    )
    first, second = contact_operations(frame, SPECS, OPTIONS)
    assert first.fingerprint != second.fingerprint


def test_moving_a_separator_between_fields_changes_the_fingerprint_input() -> None:
    """Two records differing only in which field holds a separator character get different inputs."""
    left, right = _fingerprint_inputs(
        [
            {"contact.firstName": "Ann\x1f", "contact.lastName": "Lee"},
            {"contact.firstName": "Ann", "contact.lastName": "\x1fLee"},
        ]
    )
    assert left != right


def test_payload_version_is_part_of_every_fingerprint() -> None:
    """The salt carries PAYLOAD_VERSION, so bumping it makes every record look changed once."""
    salt = json.loads(_fingerprint_inputs([{"contact.firstName": "Ann"}])[0])[0]
    assert salt == "salt"
    operation = next(contact_operations(_contacts(), SPECS, OPTIONS))
    with patch("pipeline.importing.plan.PAYLOAD_VERSION", "next"):
        assert next(contact_operations(_contacts(), SPECS, OPTIONS)).fingerprint != operation.fingerprint


_NAMES = st.sampled_from(["contact.a", "contact.b", "contact.a\x1f", "contact.customFields.x_text"])
_VALUES = st.none() | st.text(alphabet=st.sampled_from(["a", "\x1e", "\x1f", '"', "\\", "{", ",", ":", "é"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_NAMES, _VALUES, min_size=1), min_size=2, max_size=2))
def test_distinct_records_have_distinct_fingerprint_inputs(records: list[dict[str, str | None]]) -> None:
    """The fingerprint input decodes back to the record's non-empty fields: distinct records differ."""
    inputs = _fingerprint_inputs(records)
    present = [{c: v for c, v in r.items() if v is not None} for r in records]
    for text, fields in zip(inputs, present, strict=True):
        salt, *pairs = json.loads(text)
        assert salt == "salt"
        assert pairs == [{c: fields[c]} for c in sorted(fields)]
    assert (inputs[0] == inputs[1]) == (present[0] == present[1])


def test_operations_are_built_in_batches_with_the_collector_paused_only_meanwhile() -> None:
    """The garbage collector is off while a batch is built, on whenever the consumer runs, and left as
    it was found (so a caller that disabled it keeps it disabled)."""
    states: list[bool] = []

    source_rows = plan_module._source_rows

    def sources(column: pl.Series) -> list[tuple[int, ...]]:
        states.append(gc.isenabled())
        return source_rows(column)

    with patch("pipeline.importing.plan._source_rows", side_effect=sources):
        operations = contact_operations(_contacts(), SPECS, OPTIONS, chunk_size=1)
        seen = [(op.key, gc.isenabled()) for op in operations]
    assert states == [False, False]
    assert seen == [("C-1", True), ("C-2", True)]
    gc.disable()
    try:
        assert [op.key for op in organization_operations(_orgs(), SPECS, OPTIONS)] == ["ACC-1"]
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_records_of_several_rows_keep_every_source_row_whatever_the_block() -> None:
    """Source rows come out as tuples, one per record in order, whether a chunk's records all come from
    one row (the quick way) or some from several; fingerprints do not depend on the block size."""
    contacts = pl.DataFrame(
        {
            "contact.externalId": [f"C-{i}" for i in range(7)],
            "contact.firstName": [f"N{i}" for i in range(7)],
            "source_rows": [[2], [3], [4, 9], [5], [6], [7], [8]],
        }
    )
    planned = list(contact_operations(contacts, SPECS, OPTIONS, chunk_size=2))
    assert [op.source_rows for op in planned] == [(2,), (3,), (4, 9), (5,), (6,), (7,), (8,)]
    with patch.object(plan_module, "FINGERPRINT_BLOCK", 3):
        reblocked = list(contact_operations(contacts, SPECS, OPTIONS, chunk_size=2))
    assert [op.fingerprint for op in reblocked] == [op.fingerprint for op in planned]
    assert [op.body for op in reblocked] == [op.body for op in planned]


def test_fingerprints_recorded_by_earlier_versions_still_match() -> None:
    """The fingerprint of a fixed record is pinned: a re-import skips records by the fingerprints its
    journal recorded, so a change in how they are made would re-send every record once (bump
    PAYLOAD_VERSION when that is meant, and pin the new values)."""
    options = PlanOptions(external_source_id="src-1", contact_schema={"id": "schema-1", "version": 3})
    contacts = pl.DataFrame(
        {
            "contact.externalId": ["C-1", "C-2"],
            "contact.firstName": ['Zoë "Z" \\ ;', None],
            "contact.workEmail": ["z@example.com", "b@example.com"],
            "contact.customFields.vip_boolean": ["true", None],
            "organization.externalId": ["ACC-1", None],
            "source_rows": [[2], [3, 4]],
        }
    )
    organizations = pl.DataFrame(
        {"organization.externalId": ["ACC-1"], "organization.name": ["Acme, Inc."], "source_rows": [[2]]}
    )
    assert [op.fingerprint for op in contact_operations(contacts, SPECS, options)] == [
        "3a2230e999a4a36364bf52dc3ec76ab02d879e80953c2a55a509ff560769277a",
        "72fa71d88ac0f52d380740e82cd25509e397c2035144262724408ae400dcc3d9",
    ]
    assert [op.fingerprint for op in organization_operations(organizations, SPECS, options)] == [
        "dbbac51701f8cd68b668bb99b389b73ec070b6e78d4149fc5732754649fc9190"
    ]
