"""Tests for pipeline.prepare.phones: the polars fast path answers exactly what phonenumbers answers."""

from __future__ import annotations

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata

from pipeline.prepare.normalize import phone_mapping
from pipeline.prepare.phones import fast_e164, to_e164

# Every region phonenumbers knows covers the samples' and the bench generator's countries (bench/generate.py's
# LOCALES, not imported: it needs Faker); they are listed so a region phonenumbers dropped would show here.
BENCH_REGIONS = ["AU", "BR", "CA", "DE", "ES", "FR", "GB", "IT", "JP", "NL", "PL", "SE", "US"]
SAMPLE_REGIONS = ["AU", "CA", "DE", "ES", "FR", "GB", "IE", "JP", "NL", "US"]
REGIONS = sorted(set(phonenumbers.SUPPORTED_REGIONS) | set(BENCH_REGIONS) | set(SAMPLE_REGIONS))
_FORMATS = [
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.E164,
]
_TYPES = [
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
]


def _examples(region: str) -> list[str]:
    """The region's example numbers in national, international and E.164 form."""
    texts = []
    for kind in _TYPES:
        number = phonenumbers.example_number_for_type(region, kind)
        if number is not None:
            texts += [phonenumbers.format_number(number, f) for f in _FORMATS]
    return texts


EXAMPLES = [(region, text) for region in REGIONS for text in _examples(region)]

# Extension suffixes as people write them: the labels the fast path splits off and labels it leaves to
# parse ("#", ";ext=", "ext-", "int"), with and without spaces and dots.
_EXTENSION_LABELS = [
    " ext. ", " ext ", "ext", "ext.", " EXT. ", " Ext:", " extension ", " extn ", "extn.", " xt ",
    " x", " x ", "x", " X", ",", ", ", " ,", ",,", " , ", " ext-", " #", "#", ";ext=", " int ", " ext.  ",
]  # fmt: skip


def _national_numbers(region: str) -> list[str]:
    """The national significant numbers of the region's example numbers."""
    numbers = (phonenumbers.example_number_for_type(region, kind) for kind in _TYPES)
    return [phonenumbers.national_significant_number(n) for n in numbers if n is not None]


def _dialling_prefix(metadata: PhoneMetadata | None) -> str:
    """The region's international prefix as dialled (its preferred one, or the pattern when it is digits)."""
    if metadata is None:
        return "00"
    idd = metadata.preferred_international_prefix or metadata.international_prefix or "00"
    return idd if idd.isdigit() else "00"


def _own_code_variants(region: str) -> list[str]:
    """The region's example numbers written nationally after its own country code (with and without its
    trunk prefix on either side), bare, and with an extension."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return []
    code, trunk, idd = str(metadata.country_code), metadata.national_prefix or "", _dialling_prefix(metadata)
    leads = [code, f"{code} {trunk}", f"{trunk}{code}", f"({code}) ", f"{code}-{code}", trunk, ""]
    leads += [f"{idd} {code}", f"{idd}0", f"({idd}{trunk}) ", f"{idd}44 ", f"{idd}999"]
    texts = [f"{lead}{nsn}" for nsn in _national_numbers(region) for lead in leads]
    return texts + [f"{text} ext. 1234" for text in texts] + [f"{text}x56" for text in texts]


OWN_CODE_EXAMPLES = [(region, text) for region in REGIONS for text in _own_code_variants(region)]


@st.composite
def _written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A region and a number as people write them: an example number with digits changed, dropped or added,
    separators replaced, a "+", trunk prefix or country code added; or any text over the phone alphabet."""
    region = draw(st.sampled_from(REGIONS))
    alphabet = "0123456789 -.()+"
    if draw(st.booleans()):
        return region, draw(st.text(alphabet, min_size=1, max_size=20))
    examples = _examples(region) or ["0"]
    text = list(draw(st.sampled_from(examples)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        match draw(st.sampled_from(["change", "drop", "insert"])):
            case "change" if at < len(text):
                text[at] = draw(st.sampled_from(alphabet))
            case "drop" if at < len(text):
                del text[at]
            case _:
                text.insert(at, draw(st.sampled_from(alphabet)))
    prefix = draw(st.sampled_from(["", "0", "1", "+", "00", "+0", "(0)", "011", "+1 ", "+44 (0)", "8", "9"]))
    return region, prefix + "".join(text).strip()


@st.composite
def _own_code_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A region and one of its numbers written after the region's own country code, its trunk prefix, both,
    its international prefix (with a code, a 0 or nothing) or none of them, digits altered, separators
    anywhere, maybe a "+", maybe an extension of 1 to 25 digits."""
    region = draw(st.sampled_from(REGIONS))
    metadata = PhoneMetadata.metadata_for_region(region, None)
    code = str(metadata.country_code) if metadata is not None else "1"
    trunk = (metadata.national_prefix or "") if metadata is not None else ""
    digits = list(draw(st.sampled_from(_national_numbers(region) or ["0"])))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(digits)))
        match draw(st.sampled_from(["change", "drop", "insert"])):
            case "change" if at < len(digits):
                digits[at] = draw(st.sampled_from("0123456789"))
            case "drop" if at < len(digits):
                del digits[at]
            case _:
                digits.insert(at, draw(st.sampled_from("0123456789")))
    idd = _dialling_prefix(metadata)
    leads = [code, code + trunk, trunk + code, code + code, trunk, "", "+" + code, idd + code, idd + "0", idd]
    lead = draw(st.sampled_from([*leads, idd + draw(st.sampled_from(["1", "7", "44", "49", "352", "80"]))]))
    separators = st.sampled_from(["", "", "", " ", "-", ".", "(", ")", " (", ") "])
    text = "".join(digit + draw(separators) for digit in lead + "".join(digits)).strip()
    if draw(st.booleans()):
        label = draw(st.sampled_from(_EXTENSION_LABELS))
        text += label + draw(st.text("0123456789", min_size=1, max_size=25))
    return region, text


def _fast_disagreements(pairs: list[tuple[str, str]]) -> list[tuple[str, str, str | None, str | None]]:
    regions = pl.Series([r for r, _ in pairs], dtype=pl.String)
    texts = pl.Series([t for _, t in pairs], dtype=pl.String)
    answered = fast_e164(regions, texts)
    return [
        (region, text, fast, to_e164(region, text))
        for (region, text), resolved, fast in zip(pairs, answered["resolved"], answered["e164"], strict=True)
        if resolved and fast != to_e164(region, text)
    ]


def test_fast_path_agrees_with_phonenumbers_on_every_regions_example_numbers() -> None:
    """Example numbers of every region, in national, international and E.164 form, get parse's answer."""
    assert _fast_disagreements(EXAMPLES) == []


def test_fast_path_answers_most_example_numbers() -> None:
    """The fast path is not vacuous: it answers most example numbers of the bench's regions itself."""
    pairs = [(region, text) for region, text in EXAMPLES if region in BENCH_REGIONS]
    answered = fast_e164(pl.Series([r for r, _ in pairs]), pl.Series([t for _, t in pairs]))
    assert answered["resolved"].mean() > 0.9  # type: ignore[operator]


@settings(max_examples=150, deadline=None)
@given(st.lists(_written_numbers(), min_size=1, max_size=60))
def test_fast_path_agrees_with_phonenumbers_on_generated_numbers(pairs: list[tuple[str, str]]) -> None:
    """Numbers of every region, altered the ways people write them, get parse's answer when answered fast."""
    assert _fast_disagreements(pairs) == []


@settings(max_examples=120, deadline=None)
@given(st.lists(_own_code_numbers(), min_size=1, max_size=60))
def test_fast_path_agrees_with_phonenumbers_on_numbers_after_their_own_country_code(
    pairs: list[tuple[str, str]],
) -> None:
    """Numbers written after their region's own country code or trunk prefix, with or without an
    extension, get parse's answer when answered fast."""
    assert _fast_disagreements(pairs) == []


def test_fast_path_agrees_with_phonenumbers_on_every_regions_numbers_after_its_own_code() -> None:
    """Every region's example numbers after its own code, trunk prefix and extension get parse's answer."""
    assert _fast_disagreements(OWN_CODE_EXAMPLES) == []


def test_extension_suffixes_of_every_length_agree_with_phonenumbers() -> None:
    """Each extension label with 1 to 25 digits, after national and international numbers, gets parse's
    answer: explicit labels split up to 20 digits, "x" and commas up to 9, longer ones go to parse."""
    bases = [
        ("US", "(408) 725-5017"),
        ("US", "+1 408 725 5017"),
        ("DE", "030 12345678"),
        ("FR", "+33 1 23 45 67 89"),
    ]
    pairs = [
        (region, f"{base}{label}{'1234567890123456789012345'[:n]}")
        for region, base in bases
        for label in _EXTENSION_LABELS
        for n in range(1, 26)
    ]
    assert _fast_disagreements(pairs) == []


def test_common_shapes_are_answered_fast_with_their_e164() -> None:
    """National numbers with or without trunk prefix and +<country code> numbers resolve without parse."""
    pairs = [
        ("US", "(408) 725-5017"),
        ("GB", "0808 1556589"),
        ("DE", "030 12345678"),
        ("JP", "090-3094-0082"),
        ("US", "+44(0)1632 856250"),
        ("FR", "01 23 45 67 89"),
        ("US", "12"),
    ]
    answered = fast_e164(pl.Series([r for r, _ in pairs]), pl.Series([t for _, t in pairs]))
    assert answered["resolved"].to_list() == [True] * 6 + [False]
    assert answered["e164"].to_list()[:6] == [
        "+14087255017",
        "+448081556589",
        "+493012345678",
        "+819030940082",
        "+441632856250",
        "+33123456789",
    ]


def test_extensions_and_own_country_codes_are_answered_fast() -> None:
    """Common extension suffixes and national numbers that start with the region's country code or its
    international prefix resolve without parse, with parse's answer."""
    pairs = [
        ("US", "(807)774-3845 ext. 9274"),
        ("US", "+1-807-774-3845 x12"),
        ("US", "807.774.3845, 7"),
        ("CA", "1-371-213-7973"),
        ("CA", "(163) 752-6856"),
        ("DE", "49 30 12345678"),
        ("NL", "31 20 1234567"),
        ("DE", "(00003) 58342"),
        ("US", "011 44 20 7946 0958"),
        ("SE", "002-054 93 56"),
    ]
    answered = fast_e164(pl.Series([r for r, _ in pairs]), pl.Series([t for _, t in pairs]))
    assert answered["resolved"].all()
    assert answered["e164"].to_list() == [
        "+18077743845;ext=9274",
        "+18077743845;ext=12",
        "+18077743845;ext=7",
        "+13712137973",
        "+11637526856",
        "+493012345678",
        "+31201234567",
        "+49000358342",
        "+442079460958",
        "+20549356",
    ]
    assert answered["e164"].to_list() == [to_e164(r, t) for r, t in pairs]


def test_odd_text_and_long_extensions_go_through_phonenumbers() -> None:
    """Letters, a second "+" and an extension longer than parse splits off are left to parse, and the
    mapping still has parse's answer."""
    keys = pl.Series(
        [
            "US\x1f1-800-FLOWERS",
            "GB\x1f+44+20",
            "US\x1f",
            "US\x1f(807)774-3845 x1234567890",
            "US\x1f555-1234 #12",
        ]
    )
    answered = fast_e164(*[keys.str.split_exact("\x1f", 1).struct.field(f) for f in ("field_0", "field_1")])
    assert not answered["resolved"].any()
    slow = [to_e164(*key.split("\x1f")) for key in keys]
    assert phone_mapping(keys)["new"].to_list() == ["+18003569377", None, None, *slow[3:]]


def test_phone_mapping_is_the_same_with_and_without_the_fast_path() -> None:
    """``phone_mapping`` gives the same E.164 for every example key whether or not the fast path runs."""
    keys = pl.Series([f"{region}\x1f{text}" for region, text in EXAMPLES]).unique()
    assert phone_mapping(keys).equals(phone_mapping(keys, fast=False))
