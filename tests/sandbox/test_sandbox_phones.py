"""The sandbox reads ``+`` phones without phonenumbers' parser and stores exactly what phonenumbers gives:
the same E.164 form, the same region (``countryCode``), the same refusals, for numbers of every region."""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sandbox_ops import Api, contact_op

from pipeline.sandbox import phones, records

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
NANPA = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]
NON_GEO = sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
TYPES = [t for t in vars(phonenumbers.PhoneNumberType).values() if isinstance(t, int)]


def _examples() -> list[str]:
    """Every example number phonenumbers has (each region and type, and the non-geographic codes)."""
    found = []
    for region in REGIONS:
        for kind in TYPES:
            if (number := phonenumbers.example_number_for_type(region, kind)) is not None:
                found.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    for code in NON_GEO:
        if (number := phonenumbers.example_number_for_non_geo_entity(code)) is not None:
            found.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return found


EXAMPLES = _examples()


def reference(phone: dict[str, Any]) -> dict[str, Any]:
    """``records.parse_phone`` as it was before the fast path: phonenumbers alone."""
    out = {k: v for k, v in phone.items() if k not in ("e164", "countryCode") and v is not None}
    text = phone.get("display") or phone.get("e164")
    if not text:
        return out
    out.setdefault("display", text)
    region = (phone.get("normalizationCountryCode") or records.DEFAULT_PHONE_REGION).upper()
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return out
    if phonenumbers.is_possible_number(number):
        out["e164"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        out["countryCode"] = phonenumbers.region_code_for_number(number) or region
    return out


def reference_e164(value: str) -> str | None:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def assert_read_as_phonenumbers_reads(text: str, hint: str | None = None) -> None:
    phone = {"display": text} if hint is None else {"display": text, "normalizationCountryCode": hint}
    assert records.parse_phone(phone) == reference(phone), text
    assert records.e164(text) == reference_e164(text), text


@st.composite
def varied(draw: st.DrawFn) -> str:
    """An example number of any region or type with some of its last digits redrawn and its length
    sometimes changed: valid, invalid, possible and impossible numbers next to real ones."""
    text = draw(st.sampled_from(EXAMPLES))
    keep = draw(st.integers(min_value=2, max_value=len(text)))
    extra = draw(st.integers(min_value=-2, max_value=2))
    tail = draw(
        st.text(
            "0123456789", min_size=max(0, len(text) - keep + extra), max_size=max(0, len(text) - keep + extra)
        )
    )
    return text[:keep] + tail


@st.composite
def nanpa(draw: st.DrawFn) -> str:
    """A +1 number whose area code is one of a NANPA region's (from its examples), the rest random."""
    area = draw(st.sampled_from([e[2:5] for e in EXAMPLES if e.startswith("+1")]))
    return "+1" + area + draw(st.text("0123456789", min_size=7, max_size=7))


def test_every_example_number_of_every_region_is_read_as_phonenumbers_reads_it() -> None:
    """Each example number phonenumbers holds (every region, number type and non-geographic code) gets
    the same E.164 form and region as phonenumbers gives it."""
    assert len(EXAMPLES) > 1000
    for text in EXAMPLES:
        assert_read_as_phonenumbers_reads(text)


def test_most_example_numbers_are_read_without_phonenumbers_parser() -> None:
    """The fast path decides the usual ``+`` numbers (it would otherwise save nothing), US and CA ones
    included."""
    decided = [text for text in EXAMPLES if phones.read_plus(text) is not None]
    assert len(decided) > 0.8 * len(EXAMPLES)
    us, ca = (
        phonenumbers.example_number_for_type(r, phonenumbers.PhoneNumberType.MOBILE) for r in ("US", "CA")
    )
    for number, region in ((us, "US"), (ca, "CA")):
        plus = phones.read_plus(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        assert plus is not None
        assert phones.region_code(plus) == region


@settings(max_examples=3000, deadline=None)
@given(varied(), st.sampled_from([None, "US", "GB", "de"]))
@example("+11234567890", None)  # a +1 number beginning with the national prefix: phonenumbers strips it
@example("+390612345678", None)  # Italian leading zero
@example("+4930123456", "DE")
def test_numbers_of_many_regions_are_read_as_phonenumbers_reads_them(text: str, hint: str | None) -> None:
    """Near-real numbers of any region, whatever region hint they come with, get what phonenumbers gives."""
    assert_read_as_phonenumbers_reads(text, hint)


@settings(max_examples=2000, deadline=None)
@given(nanpa())
def test_plus_one_numbers_get_the_nanpa_region_phonenumbers_finds(text: str) -> None:
    """+1 numbers with the area codes of US, CA and the other NANPA regions get the same region (the first
    region whose patterns match, US first) as ``region_code_for_number``."""
    assert_read_as_phonenumbers_reads(text)


@settings(max_examples=2000, deadline=None)
@given(
    st.text("0123456789", min_size=0, max_size=20), st.sampled_from(["+", "+0", "+1", "+44", "+7", "+800"])
)
def test_any_plus_and_digits_is_read_as_phonenumbers_reads_it(digits: str, start: str) -> None:
    """Any ``+`` and digits, too short, too long or under no known country code, gets the same answer."""
    assert_read_as_phonenumbers_reads(start + digits)


@pytest.mark.parametrize(
    "text",
    [
        "+1 408 725 5017",
        "+\uff11\uff14\uff10\uff18\uff17\uff12\uff15\uff15\uff10\uff11\uff17",
        "+44 (0)20 7946 0958",
        "+1408725501\uff17",
    ],
)
def test_plus_numbers_with_spaces_or_other_digits_are_left_to_phonenumbers(text: str) -> None:
    """Numbers that are not plain ASCII digits after the ``+`` are parsed by phonenumbers, as before."""
    assert phones.read_plus(text) is None
    assert_read_as_phonenumbers_reads(text)


def test_a_stored_contact_keeps_the_region_and_e164_phonenumbers_gives(api: Api) -> None:
    """Over HTTP, a Canadian and a US number sent in E.164 are stored with phonenumbers' e164 and region."""
    ca, us = "+14165550123", "+12125550199"
    op = contact_op("C-ph", workPhone={"display": ca}, cellPhone={"display": us})
    response = api.request("POST", "bulk/contacts/enrich", json={"entities": [op]})
    assert response.status_code == 200
    stored = api.request("GET", f"contacts/{response.json()['results'][0]['entity']['id']}").json()
    for name, text in (("workPhone", ca), ("cellPhone", us)):
        assert stored[name] == reference({"display": text})
    assert (stored["workPhone"]["countryCode"], stored["cellPhone"]["countryCode"]) == ("CA", "US")
