"""Plan with --blanks: empty cells of the file's columns become null fields with field rules that clear."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from pipeline.errors import ConfigError
from pipeline.fields import load_specs
from pipeline.importing.compare import FieldChange, field_changes
from pipeline.importing.job import ImportOptions
from pipeline.importing.plan import PlanOptions, contact_operations, organization_operations

SPECS = load_specs()
KEEP = PlanOptions(external_source_id="src-1", contact_schema={"id": "s1", "version": 1})
CLEAR = dataclasses.replace(KEEP, blanks="clear")


def _orgs(tags: str | None = "retail;vip", city: str | None = "Dublin") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "organization.externalId": ["ACC-1"],
            "organization.name": ["Acme"],
            "organization.tags": [tags],
            "organization.address.city": [city],
            "source_rows": [[2]],
        },
        schema_overrides={"organization.tags": pl.String, "organization.address.city": pl.String},
    )


def _contacts(title: str | None = None, tier: str | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contact.externalId": ["C-1"],
            "contact.firstName": ["Ann"],
            "contact.title": [title],
            "contact.customFields.loyalty_tier_text": [tier],
            "organization.externalId": [None],
            "source_rows": [[2]],
        },
        schema={
            "contact.externalId": pl.String,
            "contact.firstName": pl.String,
            "contact.title": pl.String,
            "contact.customFields.loyalty_tier_text": pl.String,
            "organization.externalId": pl.String,
            "source_rows": pl.List(pl.Int64),
        },
    )


def test_keep_sends_no_nulls_and_no_field_rules() -> None:
    """With the default (keep), a blank cell is simply left out and the operation has no fieldRules."""
    (op,) = contact_operations(_contacts(), SPECS, KEEP)
    assert "fieldRules" not in op.body
    assert op.body["contact"] == {
        "firstName": "Ann",
        "externalIds": [{"externalSource": {"id": "src-1"}, "value": "C-1"}],
    }


def test_clear_sends_null_with_an_always_use_provided_rule_per_blank_field() -> None:
    """With clear, each blank scalar or custom field is null, with a rule naming it by its JSON path."""
    (op,) = contact_operations(_contacts(), SPECS, CLEAR)
    assert op.body["contact"]["title"] is None
    assert op.body["contact"]["customFields"] == {"loyalty_tier_text": None}
    assert op.body["contact"]["schema"] == {"id": "s1", "version": 1}  # custom fields need their schema
    assert op.body["fieldRules"] == {
        "rules": [
            {"field": "$.title", "action": "AlwaysUseProvided"},
            {"field": "$.customFields.loyalty_tier_text", "action": "AlwaysUseProvided"},
        ]
    }
    assert op.body["contact"]["firstName"] == "Ann"


def test_clear_replaces_a_blank_list_and_clears_a_nested_member() -> None:
    """A blank list field gets arrayAction Replace; a blank address member is named by its dotted path."""
    (op,) = organization_operations(_orgs(tags=None, city=None), SPECS, CLEAR)
    assert op.body["externalOrganization"]["tags"] is None
    assert op.body["externalOrganization"]["address"] == {"city": None}
    assert op.body["fieldRules"]["rules"] == [
        {"field": "$.tags", "action": "AlwaysUseProvided", "arrayAction": "Replace"},
        {"field": "$.address.city", "action": "AlwaysUseProvided"},
    ]


def test_clear_without_blanks_or_lists_sends_the_same_payload_as_keep() -> None:
    """A record with no blank cell and no list is sent exactly as with keep (no fieldRules)."""
    (kept,) = contact_operations(_contacts("Dr", "gold"), SPECS, KEEP)
    (cleared,) = contact_operations(_contacts("Dr", "gold"), SPECS, CLEAR)
    assert cleared.body == kept.body


def test_clear_makes_a_non_empty_list_replace_the_stored_one() -> None:
    """Under clear the file is the whole truth: a list cell is sent with AlwaysUseProvided and Replace,
    so an item removed from the cell leaves Genesys; under keep the list carries no rule (Fill adds)."""
    (cleared,) = organization_operations(_orgs(), SPECS, CLEAR)
    assert cleared.body["externalOrganization"]["tags"] == ["retail", "vip"]
    assert cleared.body["fieldRules"]["rules"] == [
        {"field": "$.tags", "action": "AlwaysUseProvided", "arrayAction": "Replace"}
    ]
    (kept,) = organization_operations(_orgs(), SPECS, KEEP)
    assert "fieldRules" not in kept.body


def test_keep_payload_and_fingerprint_are_unchanged_by_the_option() -> None:
    """PlanOptions without blanks and with blanks='keep' give identical operations: no re-send needed."""
    default = PlanOptions(external_source_id="src-1", contact_schema={"id": "s1", "version": 1})
    assert list(contact_operations(_contacts("Dr"), SPECS, default)) == list(
        contact_operations(_contacts("Dr"), SPECS, KEEP)
    )


def test_fingerprint_changes_with_the_blanks_mode() -> None:
    """The same record has another fingerprint under clear, so a change-only re-import sends it."""
    (kept,) = contact_operations(_contacts("Dr"), SPECS, KEEP)
    (cleared,) = contact_operations(_contacts("Dr"), SPECS, CLEAR)
    assert kept.fingerprint != cleared.fingerprint


def test_under_clear_an_added_empty_column_changes_the_fingerprint() -> None:
    """Under clear an empty column clears a field, so adding one must not look unchanged (under keep it
    changes nothing, and the fingerprint stays)."""
    without = _contacts().drop("contact.title")
    for options, same in ((KEEP, True), (CLEAR, False)):
        (before,) = contact_operations(without, SPECS, options)
        (after,) = contact_operations(_contacts(), SPECS, options)
        assert (before.fingerprint == after.fingerprint) is same


def test_under_clear_blanking_a_cell_changes_the_fingerprint() -> None:
    """A value that became blank is a change under clear, and the same blank file is stable."""
    (full,) = contact_operations(_contacts("Dr", "gold"), SPECS, CLEAR)
    (blank,) = contact_operations(_contacts("Dr", None), SPECS, CLEAR)
    (again,) = contact_operations(_contacts("Dr", None), SPECS, CLEAR)
    assert full.fingerprint != blank.fingerprint == again.fingerprint


def test_an_unknown_blanks_mode_is_a_config_error() -> None:
    """A library caller passing another mode hears about it before any file is read."""
    with pytest.raises(ConfigError, match="--blanks must be 'keep' or 'clear'"):
        ImportOptions(blanks="wipe")  # type: ignore[arg-type]


def test_the_diff_shows_a_list_under_clear_as_exactly_the_cell() -> None:
    """plan's diff follows the rule sent: under keep a list gains only new items (nothing to change
    when the cell holds fewer), under clear it becomes the cell's items."""
    stored = {"name": "Acme", "tags": ["retail", "vip", "north"], "address": {"city": "Dublin"}}
    (kept,) = organization_operations(_orgs(), SPECS, KEEP)
    (cleared,) = organization_operations(_orgs(), SPECS, CLEAR)
    assert field_changes(kept, stored, SPECS) == []
    assert field_changes(cleared, stored, SPECS) == [
        FieldChange("Account Tags", "retail;vip;north", "retail;vip", "update")
    ]
