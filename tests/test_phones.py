"""Tests for pipeline.prepare.phones: the polars fast path answers exactly what phonenumbers answers."""

from __future__ import annotations

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_extensions_and_odd_text_go_through_phonenumbers() -> None:
    """Extensions, letters and a second "+" are left to parse, and the mapping still has parse's answer."""
    keys = pl.Series(["US\x1f(807)774-3845 ext. 9274", "US\x1f1-800-FLOWERS", "GB\x1f+44+20", "US\x1f"])
    answered = fast_e164(*[keys.str.split_exact("\x1f", 1).struct.field(f) for f in ("field_0", "field_1")])
    assert not answered["resolved"].any()
    assert phone_mapping(keys)["new"].to_list() == ["+18077743845;ext=9274", "+18003569377", None, None]


def test_phone_mapping_is_the_same_with_and_without_the_fast_path() -> None:
    """``phone_mapping`` gives the same E.164 for every example key whether or not the fast path runs."""
    keys = pl.Series([f"{region}\x1f{text}" for region, text in EXAMPLES]).unique()
    assert phone_mapping(keys).equals(phone_mapping(keys, fast=False))
