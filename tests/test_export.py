"""The pure part of export: records -> rows in the import layout."""

from __future__ import annotations

from typing import Any

import phonenumbers
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import ConfigError
from pipeline.exporting.layout import (
    COLUMNS_SPEC,
    build_layout,
    contact_rows,
    external_id,
    organization_rows,
    organization_values,
    render,
)
from pipeline.fields import FieldSpec, FieldType, custom_field, load_specs
from pipeline.importing.bodies import _phone
from pipeline.prepare.mapping import resolve_columns
from pipeline.prepare.normalize import normalize

SPECS = load_specs()
SOURCE = "src-1"
PHONE = FieldSpec("contact", "workPhone", FieldType.PHONE)
CUSTOM = {"contact": ["vip_boolean", "interests_tag"], "organization": ["tier_text"]}


def _ext(value: str, source: str = SOURCE) -> dict[str, Any]:
    return {"externalSource": {"id": source}, "value": value}


def _contact(**fields: Any) -> dict[str, Any]:
    return {"id": "g-c1", "externalIds": [_ext("C-1")], **fields}


def _org(org_id: str = "g-o1", key: str = "ACC-1", **fields: Any) -> dict[str, Any]:
    return {"id": org_id, "name": "Acme", "externalIds": [_ext(key)], **fields}


def test_phone_with_extension_is_written_as_import_normalizes_it() -> None:
    """A stored phone comes out as its E.164 number with ``;ext=N``, the form import's normalizer writes."""
    stored = {"display": "+34612340011", "e164": "+34612340011", "extension": 2520, "countryCode": "ES"}
    assert render(PHONE, stored) == "+34612340011;ext=2520"


def test_phone_without_e164_falls_back_to_display() -> None:
    """A phone the server could not parse has no ``e164``; its ``display`` is written instead."""
    assert render(PHONE, {"display": "+99 12"}) == "+99 12"


# Real numbers as the server stores them (E.164 of a possible number): every region's example numbers.
EXAMPLE_NUMBERS = sorted(
    phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    for region in phonenumbers.SUPPORTED_REGIONS
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
    if (number := phonenumbers.example_number_for_type(region, kind)) is not None
)


@given(st.sampled_from(EXAMPLE_NUMBERS), st.none() | st.integers(1, 10**9))
def test_exported_phone_goes_back_to_the_same_payload(number: str, extension: int | None) -> None:
    """Exported phones normalize and plan to exactly the phone the record was written with."""
    sent = _phone(f"{number};ext={extension}" if extension else number)
    cell = render(PHONE, {**sent, "e164": number})
    frame = normalize(pl.DataFrame({"contact.workPhone": [cell]}), SPECS)
    assert _phone(frame.item(0, "contact.workPhone")) == sent


def test_lists_booleans_and_numbers_are_written_as_import_reads_them() -> None:
    """Lists are ``;``-joined, booleans ``true``/``false``, integers in digits."""
    tags = FieldSpec("organization", "tags", FieldType.LIST, item_type=FieldType.TEXT)
    assert render(tags, ["apac", "key-account"]) == "apac;key-account"
    assert render(tags, []) is None
    assert render(custom_field("contact", "vip_boolean"), False) == "false"
    assert render(FieldSpec("organization", "employeeCount", FieldType.INTEGER), 1200) == "1200"


def test_external_id_comes_from_the_chosen_source_only() -> None:
    """The key is the ExternalId of the chosen source; ids from other sources are not used."""
    record = {"externalIds": [_ext("OTHER-1", "src-2"), _ext("C-7")]}
    assert external_id(record, SOURCE) == "C-7"
    assert external_id(record, "src-3") is None


def test_default_layout_is_the_import_layout_with_custom_and_id_columns() -> None:
    """Contact then account template headers, then custom columns, then the Genesys id columns."""
    layout, warnings = build_layout(SPECS, "both", CUSTOM)
    headers = layout.headers
    assert headers[0] == "Contact ID"
    assert headers.index("Account ID") > headers.index("Contact Survey Opt Out")
    assert headers[-5:] == [
        "custom:vip_boolean",
        "custom:interests_tag",
        "account custom:tier_text",
        "genesys_contact_id",
        "genesys_organization_id",
    ]
    assert warnings == []
    assert resolve_columns(headers, SPECS).ignored == ()


def test_columns_spec_leaves_custom_fields_out() -> None:
    """``--columns spec`` writes the field-spec columns only."""
    layout, _ = build_layout(SPECS, "both", CUSTOM, COLUMNS_SPEC)
    assert not any("custom:" in h for h in layout.headers)


def test_column_list_keeps_the_named_columns_and_always_the_keys() -> None:
    """A header list (any case) selects columns; Contact ID and Account ID are written regardless."""
    layout, _ = build_layout(SPECS, "both", CUSTOM, "contact first name, Account Name,custom:vip_boolean")
    assert layout.headers == [
        "Contact ID",
        "Contact First Name",
        "Account ID",
        "Account Name",
        "custom:vip_boolean",
        "genesys_contact_id",
        "genesys_organization_id",
    ]


def test_unknown_column_in_the_list_is_a_config_error() -> None:
    """A header that is not a column of the export is refused, naming it."""
    with pytest.raises(ConfigError, match="favourite colour"):
        build_layout(SPECS, "contacts", CUSTOM, "Contact First Name,Favourite Colour")


def test_custom_field_without_type_suffix_is_left_out_with_a_warning() -> None:
    """A schema field whose name has no type suffix cannot be re-imported, so it is not exported."""
    layout, warnings = build_layout(SPECS, "contacts", {"contact": ["nosuffix"]})
    assert "custom:nosuffix" not in layout.headers
    assert len(warnings) == 1
    assert "nosuffix" in warnings[0]


def test_contact_row_carries_its_organization_columns() -> None:
    """A contact's row has its organization's account columns, looked up by ``externalOrganization.id``."""
    layout, _ = build_layout(SPECS, "both", CUSTOM)
    orgs = {"g-o1": organization_values(_org(tags=["apac"]), layout, SOURCE)}
    contact = _contact(
        firstName="Ann", externalOrganization={"id": "g-o1"}, customFields={"vip_boolean": True}
    )
    page = contact_rows([contact], orgs, layout, SOURCE)
    row = page.frame.row(0, named=True)
    assert row["Contact ID"] == "C-1"
    assert row["Contact First Name"] == "Ann"
    assert row["custom:vip_boolean"] == "true"
    assert (row["Account ID"], row["Account Name"], row["Account Tags"]) == ("ACC-1", "Acme", "apac")
    assert (row["genesys_contact_id"], row["genesys_organization_id"]) == ("g-c1", "g-o1")
    assert page.organizations_used == {"g-o1"}


def test_contact_without_organization_has_empty_account_columns() -> None:
    """No organization link: every account column is empty, the contact columns are filled."""
    layout, _ = build_layout(SPECS, "both", CUSTOM)
    page = contact_rows([_contact(lastName="Lee")], {}, layout, SOURCE)
    row = page.frame.row(0, named=True)
    assert row["Contact Last Name"] == "Lee"
    assert all(row[s.header] is None for s in layout.organization)
    assert page.unknown_organization == 0


def test_contact_whose_organization_was_not_scanned_is_counted() -> None:
    """A link to an organization the scan did not return leaves the account columns empty and is counted."""
    layout, _ = build_layout(SPECS, "both", CUSTOM)
    page = contact_rows([_contact(externalOrganization={"id": "gone"})], {}, layout, SOURCE)
    assert page.unknown_organization == 1
    assert page.frame.item(0, "genesys_organization_id") == "gone"


def test_records_without_an_external_id_of_the_source_are_counted() -> None:
    """A record with no ExternalId from the chosen source gets an empty key cell and is counted."""
    layout, _ = build_layout(SPECS, "both", CUSTOM)
    page = contact_rows([{"id": "g-c9", "firstName": "X"}], {}, layout, SOURCE)
    assert page.without_key == 1
    assert page.frame.item(0, "Contact ID") is None


def test_organization_rows_have_empty_contact_columns() -> None:
    """An organization without contacts gets a row of its own with only account columns."""
    layout, _ = build_layout(SPECS, "both", CUSTOM)
    values = organization_values(_org(industry="Retail"), layout, SOURCE)
    page = organization_rows([("g-o1", values)], layout)
    row = page.frame.row(0, named=True)
    assert row["Account Industry"] == "Retail"
    assert row["genesys_organization_id"] == "g-o1"
    assert all(row[s.header] is None for s in layout.contact)
    assert row["genesys_contact_id"] is None


def test_organizations_layout_has_no_contact_columns() -> None:
    """``--kind organizations`` writes account columns and the organization's Genesys id only."""
    layout, _ = build_layout(SPECS, "organizations", CUSTOM)
    assert layout.headers[0] == "Account ID"
    assert layout.headers[-1] == "genesys_organization_id"
    assert "genesys_contact_id" not in layout.headers
    assert not layout.contact
