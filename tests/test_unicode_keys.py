"""Unicode in cell values: NFC everywhere, and keys that hold invisible characters are invalid rows."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.fields import load_specs
from pipeline.outcomes import Reason
from pipeline.prepare.normalize import normalize
from pipeline.prepare.read import read_table
from pipeline.prepare.stage import Prepared, PrepareOptions, prepare_table
from pipeline.prepare.validate import validate

SPECS = load_specs()
HEADER = "Contact ID,Contact First Name,Account ID,Account Name\n"
CAFE_NFC = "Caf\u00e9"
CAFE_NFD = "Cafe\u0301"


def frame(**columns: list[str | None]) -> pl.DataFrame:
    """A canonical frame with source rows 2, 3, ...; keyword names use `__` for `.`."""
    height = len(next(iter(columns.values())))
    data: dict[str, list[object]] = {"source_row": list(range(2, height + 2))}
    data.update({name.replace("__", "."): values for name, values in columns.items()})
    return pl.DataFrame(data, schema={k: (pl.Int64 if k == "source_row" else pl.String) for k in data})


def failures_of(**columns: list[str | None]) -> pl.DataFrame:
    return validate(normalize(frame(**columns), SPECS), SPECS)


def prepare(tmp_path: Path, rows: str) -> Prepared:
    path = tmp_path / "input.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return prepare_table(read_table(path), PrepareOptions())


def test_nfd_text_becomes_nfc() -> None:
    """A value written decomposed (e + combining accent) comes out composed, in every column."""
    result = normalize(frame(contact__firstName=[CAFE_NFD, CAFE_NFC, "Ann"]), SPECS)
    assert result.get_column("contact.firstName").to_list() == [CAFE_NFC, CAFE_NFC, "Ann"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=5))
def test_normalized_text_is_always_nfc(values: list[str]) -> None:
    """Whatever the input, every normalized value is in NFC form."""
    result = normalize(frame(contact__title=list(values)), SPECS).get_column("contact.title")
    assert all(v is None or unicodedata.is_normalized("NFC", v) for v in result)


def test_no_break_spaces_around_a_key_are_trimmed_and_inside_kept() -> None:
    """NBSP (U+00A0) and narrow NBSP (U+202F) at the ends of a key are trimmed; inside, they stay."""
    result = normalize(frame(contact__externalId=["\u00a0C-1\u202f", "C\u00a01"]), SPECS)
    assert result.get_column("contact.externalId").to_list() == ["C-1", "C\u00a01"]
    assert failures_of(contact__externalId=["\u00a0C-1\u00a0", "C\u00a01"]).is_empty()


@pytest.mark.parametrize(
    "char",
    [
        "\u200b",  # zero width space
        "\u200c",  # zero width non-joiner
        "\u200d",  # zero width joiner
        "\u2060",  # word joiner
        "\u00ad",  # soft hyphen
        "\ufeff",  # byte-order mark
        "\u200e",  # left-to-right mark
        "\u202e",  # right-to-left override
        "\u2066",  # left-to-right isolate
        "\u061c",  # Arabic letter mark
        "\x07",  # bell (Cc)
        "\t",  # tab inside a key (Cc)
        "\x85",  # next line (C1 control)
        "\u2028",  # line separator
        "\u180e",  # Mongolian vowel separator
        "\ufe0f",  # variation selector
        "\u3164",  # Hangul filler
        "\U000e0041",  # tag latin capital A
    ],
)
def test_invisible_characters_in_a_key_make_the_row_invalid(char: str) -> None:
    """A key holding an invisible or control character fails as invisible_character, naming the code point."""
    failure = failures_of(contact__externalId=[f"C-{char}1"], contact__firstName=["Ann"]).row(0, named=True)
    assert failure["code"] == Reason.INVISIBLE_CHARACTER.value
    assert failure["column"] == "Contact ID"
    assert f"U+{ord(char):04X} (" in failure["message"]
    assert "at position 3" in failure["message"]


def test_the_message_names_the_header_code_point_name_and_position() -> None:
    """The message says which column, which character by code point and name, where, and what to do."""
    failure = failures_of(contact__externalId=["ACC-1\u200b"]).row(0, named=True)
    assert failure["message"] == (
        "Contact ID: contains an invisible character U+200B (ZERO WIDTH SPACE) at position 6; remove it"
    )


def test_several_invisible_characters_are_counted_and_the_first_named() -> None:
    """With more than one, the message counts them and names the first."""
    failure = failures_of(organization__externalId=["\u200eA\u00adB\u200b"], organization__name=["Acme"])
    assert failure.row(0, named=True)["message"] == (
        "Account ID: contains 3 invisible characters, the first U+200E (LEFT-TO-RIGHT MARK) at position 1; "
        "remove them"
    )


def test_control_characters_are_named_as_such() -> None:
    """Control characters have no Unicode name: the message calls them control characters."""
    failure = failures_of(contact__externalId=["C\x1f1"]).row(0, named=True)
    assert "U+001F (a control character) at position 2" in failure["message"]


def test_a_key_of_only_a_zero_width_space_is_invalid_not_accepted() -> None:
    """A Contact ID that looks empty but holds U+200B is reported, not imported."""
    failure = failures_of(contact__externalId=["\u200b"], contact__firstName=["Ann"]).row(0, named=True)
    assert failure["code"] == Reason.INVISIBLE_CHARACTER.value


@pytest.mark.parametrize("key", ["Ünïcødé-1", "客户-7", "C\u00a01", "Ω-ω", "🙂"])
def test_visible_non_ascii_keys_are_valid(key: str) -> None:
    """Letters, symbols and spaces of any script are fine in a key."""
    assert failures_of(contact__externalId=[key]).is_empty()


def test_invisible_characters_in_text_fields_are_left_alone() -> None:
    """Only keys are checked: a name may need a zero-width joiner (some scripts and emoji use it)."""
    assert failures_of(
        contact__externalId=["C-1"], contact__firstName=["\u0915\u094d\u200d\u0937"]
    ).is_empty()


def test_look_alike_account_ids_are_one_organization_and_invisible_ones_invalid(tmp_path: Path) -> None:
    """ACC-1, ACC-1 + U+200B and ACC-1 + soft hyphen are not three organizations: two rows are invalid."""
    prepared = prepare(tmp_path, "C-1,Ann,ACC-1,Acme\nC-2,Bob,ACC-1\u200b,Acme\nC-3,Cy,ACC-1\u00ad,Acme\n")
    assert prepared.grouped.organizations.get_column("organization.externalId").to_list() == ["ACC-1"]
    invalid = prepared.failures.filter(pl.col("code") == Reason.INVISIBLE_CHARACTER.value)
    assert invalid.get_column("source_row").to_list() == [3, 4]
    assert set(invalid.get_column("column")) == {"Account ID"}


def test_nfc_and_nfd_account_ids_are_one_organization(tmp_path: Path) -> None:
    """The composed and decomposed spellings of one Account ID make one organization."""
    prepared = prepare(tmp_path, f"C-1,Ann,{CAFE_NFC}-1,Acme\nC-2,Bob,{CAFE_NFD}-1,Acme\n")
    assert prepared.grouped.organizations.get_column("organization.externalId").to_list() == [f"{CAFE_NFC}-1"]
    assert prepared.failures.is_empty()


def test_names_differing_only_in_nfc_and_nfd_do_not_conflict(tmp_path: Path) -> None:
    """One account's name composed on one row and decomposed on another: no conflict, NFC sent."""
    prepared = prepare(tmp_path, f"C-1,Ann,ACC-9,{CAFE_NFC}\nC-2,Bob,ACC-9,{CAFE_NFD}\n")
    organizations = prepared.grouped.organizations
    assert organizations.select("organization.externalId", "organization.name").rows() == [
        ("ACC-9", CAFE_NFC)
    ]
    assert prepared.grouped.outcomes.filter(pl.col("error_code").is_not_null()).is_empty()
    assert prepared.grouped.contacts.height == 2


def test_an_invisible_account_id_on_a_link_only_row_makes_the_contact_invalid(tmp_path: Path) -> None:
    """A row naming only an Account ID links its contact through it, so the contact is what is invalid."""
    prepared = prepare(tmp_path, "C-1,Ann,ACC-1,Acme\nC-2,Bob,ACC-1\u2060,\n")
    outcome = prepared.grouped.outcomes.filter(pl.col("source_row") == 3).row(0, named=True)
    assert outcome["contact_status"] == "invalid"
    assert outcome["error_code"] == Reason.INVISIBLE_CHARACTER.value
    assert prepared.grouped.contacts.get_column("contact.externalId").to_list() == ["C-1"]
