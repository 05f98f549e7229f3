"""Tests for pipeline.prepare.normalize: trimming, phones, emails, booleans, lists, integers."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.csvsafe import unescape_expr
from pipeline.errors import ConfigError
from pipeline.fields import FieldType, Specs, load_specs
from pipeline.prepare.normalize import (
    E164_PATTERN,
    _by_type,
    _clean_columns,
    _composed,
    _email,
    _list,
    _unescaped,
    check_region,
    is_valid_e164,
    normalize,
    phone_to_e164,
)
from pipeline.prepare.read import read_table

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SPECS = load_specs()


def frame(**columns: list[str | None]) -> pl.DataFrame:
    """A canonical frame: keyword names use `__` for `.` (contact__workPhone -> contact.workPhone)."""
    height = len(next(iter(columns.values())))
    data = {"source_row": list(range(2, height + 2))}
    data.update({name.replace("__", "."): values for name, values in columns.items()})
    return pl.DataFrame(data, schema={name: pl.Int64 if name == "source_row" else pl.String for name in data})


def column(result: pl.DataFrame, name: str) -> list[str | None]:
    return result.get_column(name).to_list()


def test_values_are_trimmed_and_blank_cells_become_null() -> None:
    """Surrounding whitespace (including non-breaking spaces) goes; empty and all-space cells become null."""
    result = normalize(frame(contact__firstName=["  Ann ", "", "   ", None, "\u00a0Bo\t"]), SPECS)
    assert column(result, "contact.firstName") == ["Ann", None, None, None, "Bo"]


def test_rows_order_columns_and_types_are_preserved() -> None:
    """Normalization changes values only: same rows, same order, same columns, same dtypes."""
    source = frame(
        contact__externalId=["C2", "C1", "C3"],
        contact__workPhone=["(415) 555-0123", None, "x"],
        organization__tags=["a;b", None, ";"],
        unknown__column=[" keep ", "x", None],
    )
    result = normalize(source, SPECS)
    assert result.schema == source.schema
    assert column(result, "source_row") == [2, 3, 4]
    assert column(result, "contact.externalId") == ["C2", "C1", "C3"]


def test_columns_without_a_spec_are_only_trimmed() -> None:
    """A column the specs do not know is cleaned like text and otherwise left alone."""
    result = normalize(frame(contact__nickname=[" Yes ", "1,200"]), SPECS)
    assert column(result, "contact.nickname") == ["Yes", "1,200"]


def test_formula_escape_added_on_export_is_undone() -> None:
    """A quote before a formula-looking value (as our exports write it) is removed; other quotes stay."""
    result = normalize(frame(contact__title=["'=SUM(A1)", "'hello", " '@x ", "''=A1"]), SPECS)
    assert column(result, "contact.title") == ["=SUM(A1)", "'hello", "@x", "'=A1"]


@pytest.mark.parametrize(
    ("region", "raw", "e164"),
    [
        ("US", "(415) 555-0123", "+14155550123"),
        ("US", "415.555.0123", "+14155550123"),
        ("US", "1-415-555-0123", "+14155550123"),
        ("GB", "020 7946 0123", "+442079460123"),
        ("GB", "07700 900123", "+447700900123"),
        ("DE", "030 23125123", "+493023125123"),
        ("FR", "01 99 00 12 34", "+33199001234"),
        ("AU", "(02) 5550 1234", "+61255501234"),
        ("JP", "03-1234-5678", "+81312345678"),
        ("US", "+44 20 7946 0123", "+442079460123"),
        ("GB", "+1 (212) 555-0199", "+12125550199"),
        ("US", "+14155550123", "+14155550123"),
    ],
)
def test_phones_become_e164_read_in_the_default_region(region: str, raw: str, e164: str) -> None:
    """National numbers are read in the default region; international ones keep their own country."""
    result = normalize(frame(contact__workPhone=[raw]), SPECS, default_region=region)
    assert column(result, "contact.workPhone") == [e164]


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("(415) 555-0123 ext. 42", "+14155550123;ext=42"),
        ("415-555-0123 x7", "+14155550123;ext=7"),
        ("+1 415 555 0123 extension 1234", "+14155550123;ext=1234"),
        ("+14155550123;ext=42", "+14155550123;ext=42"),
        ("'+14155550123;ext=42", "+14155550123;ext=42"),
    ],
)
def test_extensions_are_kept(raw: str, normalized: str) -> None:
    """An extension survives as `;ext=`, including when read back from our own escaped export."""
    result = normalize(frame(contact__workPhone=[raw]), SPECS)
    assert column(result, "contact.workPhone") == [normalized]


def test_the_rows_country_overrides_the_default_region() -> None:
    """A valid ISO code in the same kind's country column decides how that row's national numbers read."""
    result = normalize(
        frame(
            contact__workPhone=["020 7946 0123", "020 7946 0123", "030 23125123", "(415) 555-0123"],
            contact__address__countryCode=["GB", " uk ", "de", "Narnia"],
            organization__phoneNumber=["(415) 555-0166", "01 555 0114", None, None],
            organization__address__countryCode=[None, "IE", None, None],
        ),
        SPECS,
        default_region="US",
    )
    assert column(result, "contact.workPhone") == [
        "+442079460123",
        "+442079460123",
        "+493023125123",
        "+14155550123",
    ]
    assert column(result, "organization.phoneNumber") == ["+14155550166", "+35315550114", None, None]
    assert column(result, "contact.address.countryCode") == ["GB", "uk", "de", "Narnia"]


@pytest.mark.parametrize("raw", ["call reception", "12", "+1 555", "555-CALL-NOW-PLEASE-NOW", "++44"])
def test_phones_that_cannot_be_parsed_stay_as_trimmed_text(raw: str) -> None:
    """Unparseable numbers are kept (trimmed) for validation to report, never dropped or guessed."""
    result = normalize(frame(contact__cellPhone=[f"  {raw} "]), SPECS)
    assert column(result, "contact.cellPhone") == [raw]


@pytest.mark.parametrize("region", ["XX", "USA", "", "uk2"])
def test_unknown_default_region_is_a_config_error(region: str) -> None:
    """The default region must be an ISO 3166 alpha-2 code phonenumbers knows."""
    with pytest.raises(ConfigError, match="unknown default region"):
        normalize(frame(contact__workPhone=["(415) 555-0123"]), SPECS, default_region=region)


def test_region_codes_are_case_insensitive() -> None:
    """`gb`, ` GB ` and the common `UK` all mean Great Britain."""
    assert {check_region(r) for r in ("gb", " GB ", "uk")} == {"GB"}


def test_email_domain_is_lower_cased_and_local_part_kept() -> None:
    """Only the domain is case-folded: the local part can be case-sensitive on some servers."""
    result = normalize(
        frame(contact__workEmail=[" Jane.Doe@Example.COM ", "no-at-sign", "a@b@C.Com", "x@"]), SPECS
    )
    assert column(result, "contact.workEmail") == ["Jane.Doe@example.com", "no-at-sign", "a@b@c.com", "x@"]


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("yes", "true"), ("Y", "true"), ("TRUE", "true"), ("1", "true"), (" no ", "false"), ("n", "false"),
     ("False", "false"), ("0", "false"), ("maybe", "maybe"), ("ja", "ja"), ("", None)],
)  # fmt: skip
def test_booleans_become_true_or_false(raw: str, normalized: str | None) -> None:
    """Common yes/no spellings map to true/false; anything else is kept for validation to report."""
    result = normalize(frame(contact__surveyOptOut=[raw], contact__customFields__vip_boolean=[raw]), SPECS)
    assert column(result, "contact.surveyOptOut") == [normalized]
    assert column(result, "contact.customFields.vip_boolean") == [normalized]


def test_list_items_are_trimmed_and_empty_items_dropped() -> None:
    """`;`-separated cells are rejoined cleanly; a cell of separators only becomes null."""
    result = normalize(frame(organization__tags=[" vip ; ;emea;", ";;", "one", " a;b "]), SPECS)
    assert column(result, "organization.tags") == ["vip;emea", None, "one", "a;b"]


def test_integer_digit_grouping_is_removed_only_when_unambiguous() -> None:
    """`1,200` and `1 200` become 1200; `1.200`, `12,00` and words are left for validation."""
    raws = ["1,200", "12 345 678", "-1,000", "1.200", "12,00", "1,2345", "about 50", " 42 "]
    result = normalize(frame(organization__employeeCount=raws), SPECS)
    assert column(result, "organization.employeeCount") == [
        "1200",
        "12345678",
        "-1000",
        "1.200",
        "12,00",
        "1,2345",
        "about 50",
        "42",
    ]


@pytest.mark.parametrize(
    ("value", "valid"),
    [("+14155550123", True), ("+14155550123;ext=42", True), ("+442079460123", True), ("14155550123", False),
     ("+0123456", False), ("+1234567890123456", False), ("+14155550123\n", False), ("+1415555012٣", False),
     ("call me", False)],
)  # fmt: skip
def test_is_valid_e164_accepts_only_the_normalized_shape(value: str, valid: bool) -> None:
    """The helper the validator can use agrees with E164_PATTERN: `+`, up to 15 ASCII digits, optional ext."""
    assert is_valid_e164(value) is valid


def test_keys_are_only_trimmed() -> None:
    """Contact IDs are compared exactly after trimming, so nothing else about them changes."""
    result = normalize(frame(contact__externalId=[" 00042 ", "ABC-1"]), SPECS)
    assert column(result, "contact.externalId") == ["00042", "ABC-1"]


REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r) is not None)


@settings(max_examples=200, deadline=None)
@given(region=st.sampled_from(REGIONS), national=st.booleans())
def test_every_regions_example_number_normalizes_from_national_form(region: str, national: bool) -> None:
    """For any country, its example number written nationally (with the row's country) or internationally
    becomes the same E.164 value."""
    number = phonenumbers.example_number(region)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    written = phonenumbers.format_number(number, style)
    result = normalize(frame(contact__workPhone=[written], contact__address__countryCode=[region]), SPECS)
    assert column(result, "contact.workPhone") == [phonenumbers.format_number(number, 0)]


text_cells = st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",), exclude_characters="'")))
phone_cells = st.one_of(
    text_cells, st.from_regex(r"\A\+?[0-9 ()\-.]{3,18}( ?(ext\.?|x) ?[0-9]{1,5})?\Z", fullmatch=True)
)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_normalizing_twice_changes_nothing(data: st.DataObject) -> None:
    """normalize is idempotent for every field type (apart from the formula quote, which is undone once)."""
    size = data.draw(st.integers(1, 6))
    columns = {
        "contact__workPhone": data.draw(st.lists(phone_cells, min_size=size, max_size=size)),
        "contact__workEmail": data.draw(st.lists(text_cells, min_size=size, max_size=size)),
        "contact__surveyOptOut": data.draw(st.lists(text_cells, min_size=size, max_size=size)),
        "organization__tags": data.draw(st.lists(text_cells, min_size=size, max_size=size)),
        "organization__employeeCount": data.draw(st.lists(text_cells, min_size=size, max_size=size)),
        "contact__address__countryCode": data.draw(
            st.lists(st.sampled_from([None, "US", "GB", "DE", "JP"]), min_size=size, max_size=size)
        ),
    }
    once = normalize(frame(**columns), SPECS)
    assert normalize(once, SPECS).equals(once)
    for raw, phone in zip(columns["contact__workPhone"], column(once, "contact.workPhone"), strict=True):
        # A phone that does not parse is kept as text, and text is NFC-normalized: compare with that form.
        kept = unicodedata.normalize("NFC", raw or "")
        assert phone is None or re.fullmatch(E164_PATTERN, phone) or phone in kept


def test_an_unparseable_phone_is_kept_in_its_nfc_form() -> None:
    """U+FB2A has no NFC composition: NFC turns it into two code points, and a second pass leaves them."""
    once = normalize(frame(contact__workPhone=["\ufb2a"]), SPECS)
    assert column(once, "contact.workPhone") == [unicodedata.normalize("NFC", "\ufb2a")]
    assert normalize(once, SPECS).equals(once)


def _canonical_sample(name: str, specs: Specs) -> pl.DataFrame:
    """A sample in the template layout, renamed to canonical columns by its template headers."""
    table = read_table(SAMPLES / name)
    by_header = {spec.headers[0]: spec.column for spec in specs.all if spec.headers}
    renames = {
        h: by_header.get(h) or "contact.customFields." + h.removeprefix("custom:") for h in table.headers
    }
    return table.frame.rename(renames)


def test_every_phone_in_the_demo_sample_normalizes_to_e164() -> None:
    """samples/contacts.csv is the demo input: each of its phone numbers must come out in E.164 form."""
    result = normalize(_canonical_sample("contacts.csv", SPECS), SPECS)
    phones = [s.column for s in SPECS.all if s.type == FieldType.PHONE and s.column in result.columns]
    assert len(phones) == 3
    for name in phones:
        bad = result.filter(pl.col(name).is_not_null() & ~pl.col(name).str.contains(E164_PATTERN))
        assert bad.height == 0, f"{name} not normalized on rows {bad.get_column('source_row').to_list()}"
    assert result.get_column("contact.workPhone").str.contains(";ext=").any()


def test_demo_sample_accounts_have_identical_data_on_every_row() -> None:
    """Each Account ID in samples/contacts.csv carries the same account data on all its rows."""
    result = normalize(_canonical_sample("contacts.csv", SPECS), SPECS)
    organization = [c for c in result.columns if c.startswith("organization.")]
    per_account = result.group_by("organization.externalId").agg(
        pl.len(), *(pl.col(c).n_unique() for c in organization[1:])
    )
    assert per_account.height >= 20
    assert per_account.get_column("len").min() >= 2
    assert per_account.select(organization[1:]).max_horizontal().max() == 1


_STRINGS = {"contact.workEmail": pl.String, "organization.tags": pl.String}
_PIECES = ["a", "B", "É", "ß", "@", ";", " ", "\u00a0", "e\u0301", "İ", "x"]
_RULE_TEXT = st.none() | st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_RULE_TEXT, min_size=1, max_size=20))
def test_rules_skipped_for_values_they_keep_give_the_rules_results(values: list[str | None]) -> None:
    """Composing, the email rule and the list rule run only on the values they can change; the result is
    what running them on every value gives."""
    frame = pl.DataFrame({"contact.workEmail": values, "organization.tags": values}, schema=_STRINGS)
    cleaned = _clean_columns(frame, list(frame.columns))
    for column, rule in (("contact.workEmail", _email), ("organization.tags", _list)):
        everywhere = cleaned.select(rule(pl.col(column)).alias(column)).to_series()
        assert _by_type(cleaned.get_column(column), SPECS).to_list() == everywhere.to_list()
    composed = frame.select(pl.col(c).str.strip_chars().str.normalize("NFC") for c in frame.columns)
    stripped = frame.select(pl.col(c).str.strip_chars() for c in frame.columns)
    for column in frame.columns:
        assert _composed(stripped.get_column(column)).to_list() == composed.get_column(column).to_list()


_QUOTED_TEXT = st.none() | st.lists(st.sampled_from(["'", "=", "+", "1", " ", "a"]), max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_QUOTED_TEXT, min_size=1, max_size=20))
def test_undoing_the_escape_only_where_a_quote_starts_gives_the_rule_run_everywhere(
    values: list[str | None],
) -> None:
    """The formula escape is undone only on values that start with a quote; the result is the rule's on
    every (trimmed) value."""
    trimmed = pl.Series("contact.firstName", values, dtype=pl.String).str.strip_chars()
    everywhere = trimmed.to_frame().select(unescape_expr("contact.firstName").str.strip_chars()).to_series()
    assert _unescaped(trimmed).to_list() == everywhere.to_list()


_PHONE_TEXT = st.none() | st.sampled_from(
    [
        "(415) 555-0123",
        "+44 20 7946 0958",
        "020 7946 0958",
        "+14155550123",
        "+14155550123;ext=7",
        "415-555-0123 ext. 42",
        "tel:+1-415-555-0123",  # RFC 3966: the slow path
        "1-800-FLOWERS",  # letters: the slow path
        "030 1234567",
        "12",
        "not a phone",
        "+999 123",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PHONE_TEXT, _PHONE_TEXT, st.sampled_from([None, "US", "GB", "DE"])), max_size=30))
def test_each_phone_reads_as_its_own_parse_whatever_repeats_across_rows_and_columns(
    rows: list[tuple[str | None, str | None, str | None]],
) -> None:
    """Phones are read where they stand, slow-path ones once per distinct value: each cell ends as what
    reading that one value in its row's region gives (its E.164, or the value itself when it has none)."""
    work, cell, country = (list(values) for values in zip(*rows, strict=True)) if rows else ([], [], [])
    result = normalize(
        frame(contact__workPhone=work, contact__cellPhone=cell, contact__address__countryCode=country),
        SPECS,
        default_region="FR",
    )
    for name, values in (("contact.workPhone", work), ("contact.cellPhone", cell)):
        expected = [
            None if v is None else (phone_to_e164(v, region or "FR") or v)
            for v, region in zip(values, country, strict=True)
        ]
        assert column(result, name) == expected
