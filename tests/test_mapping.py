"""Header resolution, mapping files and the canonical frame."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from pipeline.errors import InputError, MappingError, MissingKeyColumnError
from pipeline.fields import load_specs
from pipeline.prepare.mapping import Mapping, header_key, load_mapping, resolve_columns, to_canonical

SPECS = load_specs()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_template_headers_match_case_insensitively_and_ignoring_spaces() -> None:
    """`  contact id ` and `ACCOUNT NAME` resolve to the same fields as the template spellings."""
    cmap = resolve_columns(["  contact id ", "ACCOUNT NAME", "Account ID"], SPECS)
    assert cmap.columns == {
        "  contact id ": "contact.externalId",
        "ACCOUNT NAME": "organization.name",
        "Account ID": "organization.externalId",
    }
    assert cmap.headers_for["contact.externalId"] == "  contact id "


def test_aliases_resolve_to_their_field() -> None:
    """An alias listed in the spec (`Mobile`) fills the same field as the template header."""
    cmap = resolve_columns(["Contact ID", "Mobile", "Email"], SPECS)
    assert cmap.columns["Mobile"] == "contact.cellPhone"
    assert cmap.columns["Email"] == "contact.workEmail"


def test_unknown_headers_are_listed_once_as_ignored() -> None:
    """Headers that match nothing are reported as ignored, not raised."""
    cmap = resolve_columns(["Contact ID", "Notes", "Favourite Colour"], SPECS)
    assert cmap.ignored == ("Notes", "Favourite Colour")
    assert "Notes" not in cmap.columns


def test_custom_headers_become_typed_custom_fields() -> None:
    """`custom:<name>` and `account custom:<name>` address contact and organization custom fields."""
    cmap = resolve_columns(["Contact ID", "custom:loyalty_tier_text", "Account Custom: seats_integer"], SPECS)
    assert cmap.columns["custom:loyalty_tier_text"] == "contact.customFields.loyalty_tier_text"
    assert cmap.columns["Account Custom: seats_integer"] == "organization.customFields.seats_integer"


def test_custom_header_without_type_suffix_is_a_mapping_error() -> None:
    """A custom field name must end in a type suffix, as Genesys requires."""
    with pytest.raises(MappingError, match="no type suffix"):
        resolve_columns(["Contact ID", "custom:loyalty"], SPECS)


def test_two_columns_for_one_field_name_both_headers() -> None:
    """`Email` and `Work Email` both mean workEmail: the error names both headers."""
    with pytest.raises(InputError, match=r"'Email' and 'Work Email'"):
        resolve_columns(["Contact ID", "Email", "Work Email"], SPECS)


def test_missing_key_columns_raise_missing_key_error() -> None:
    """A file with neither Contact ID nor Account ID cannot be imported at all."""
    with pytest.raises(MissingKeyColumnError, match="no Contact ID or Account ID column"):
        resolve_columns(["First Name", "Last Name"], SPECS)


def test_account_id_alone_is_enough_of_a_key() -> None:
    """An organizations-only file is valid input."""
    cmap = resolve_columns(["Account ID", "Account Name"], SPECS)
    assert set(cmap.columns.values()) == {"organization.externalId", "organization.name"}


def test_mapping_file_entries_win_over_spec_headers(tmp_path: Path) -> None:
    """A mapping file can send a header the spec knows (`Title`) to another field."""
    path = write(
        tmp_path,
        '[columns]\n"Title" = "contact.salutation"\n"CRM Key" = "contact.externalId"\n"Internal Memo" = ""\n',
    )
    mapping = load_mapping(path, SPECS)
    cmap = resolve_columns(["crm key", "title", "Internal Memo"], SPECS, mapping)
    assert cmap.columns == {"crm key": "contact.externalId", "title": "contact.salutation"}
    assert cmap.ignored == ()


def test_mapping_constants_become_literal_columns(tmp_path: Path) -> None:
    """`[constants]` fill a canonical column with the same value on every row."""
    path = write(tmp_path, '[constants]\n"contact.address.countryCode" = "US"\n')
    cmap = resolve_columns(["Contact ID"], SPECS, load_mapping(path, SPECS))
    raw = pl.DataFrame({"source_row": [2, 3], "Contact ID": ["C1", "C2"]})
    frame = to_canonical(raw, cmap)
    assert frame.get_column("contact.address.countryCode").to_list() == ["US", "US"]
    assert "mapping constant" in cmap.headers_for["contact.address.countryCode"]


def test_constant_key_satisfies_the_key_requirement() -> None:
    """A file for one account can give its Account ID as a constant."""
    mapping = Mapping(constants={"organization.externalId": "ACC-1"})
    cmap = resolve_columns(["Account Name"], SPECS, mapping)
    assert cmap.constants == {"organization.externalId": "ACC-1"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[columns\n", "not valid TOML"),
        ('[columns]\n"X" = "contact.nickname"\n', "unknown field 'contact.nickname'"),
        ('[columns]\n"X" = "contact.customFields.tier"\n', "no type suffix"),
        ('[columns]\n"X" = 3\n', "must be a string"),
        ('[constants]\n"contact.title" = true\n', "must be a string"),
        ('[colums]\n"X" = "contact.title"\n', "unknown section"),
    ],
)
def test_broken_mapping_files_raise_mapping_error_naming_the_file(
    tmp_path: Path, text: str, reason: str
) -> None:
    """Every kind of broken mapping file is one MappingError with the file name and the reason."""
    path = write(tmp_path, text)
    with pytest.raises(MappingError, match=reason) as info:
        load_mapping(path, SPECS)
    assert str(path) in str(info.value)


def test_missing_mapping_file_is_a_mapping_error(tmp_path: Path) -> None:
    """A mapping path that does not exist is reported, not a traceback."""
    with pytest.raises(MappingError, match="cannot be read"):
        load_mapping(tmp_path / "absent.toml", SPECS)


def test_to_canonical_renames_selects_and_keeps_source_row() -> None:
    """The canonical frame has source_row, the mapped columns renamed, and no ignored columns."""
    raw = pl.DataFrame(
        {"source_row": [2, 3], "Contact ID": ["C1", "C2"], "Notes": ["x", "y"], "Mobile": ["1", None]}
    )
    cmap = resolve_columns(["Contact ID", "Notes", "Mobile"], SPECS)
    frame = to_canonical(raw, cmap)
    assert frame.columns == ["source_row", "contact.externalId", "contact.cellPhone"]
    assert frame.schema["source_row"] == pl.Int64
    assert frame.get_column("contact.cellPhone").to_list() == ["1", None]


def test_outcome_columns_of_a_previous_report_are_not_reported_as_ignored() -> None:
    """A reconciliation file fed back as input does not warn about its own outcome columns."""
    cmap = resolve_columns(["Contact ID", "contact_status", "error_message"], SPECS)
    assert cmap.ignored == ()


@pytest.mark.parametrize("space", ["\u00a0", "\u2007", "\u202f", "\u3000", "\t", "  "])
def test_headers_with_unicode_spaces_match_the_plain_spelling(space: str) -> None:
    """`Contact First Name` written with a no-break or other Unicode space fills the same field."""
    cmap = resolve_columns(["Contact ID", f"Contact{space}First Name"], SPECS)
    assert cmap.columns[f"Contact{space}First Name"] == "contact.firstName"
    assert cmap.ignored == ()


def test_headers_match_ignoring_zero_width_characters_and_normalization_form() -> None:
    """Zero-width characters are dropped and headers compared in NFC."""
    assert header_key("\u200bContact\u200d ID\ufeff") == "contact id"
    assert header_key(unicodedata.normalize("NFD", "Prénom")) == header_key("Prénom")


def test_mapping_keys_equal_but_for_case_or_spaces_are_refused_naming_both(tmp_path: Path) -> None:
    """Two [columns] keys that match the same header are ambiguous, and both are named."""
    path = write(tmp_path, '[columns]\n"Full Name" = "contact.firstName"\n"full\u00a0 name" = ""\n')
    spaced = "full\u00a0 name"
    expected = f"'Full Name' and {spaced!r} name the same column"
    with pytest.raises(MappingError, match=re.escape(expected)):
        load_mapping(path, SPECS)
