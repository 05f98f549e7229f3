"""Phones sent in E.164 (``+`` and digits), read from phonenumbers' metadata without its general parser.

Every phone the pipeline sends is already ``+<country code><national number>``, and parsing one with
``phonenumbers.parse`` (cleaning, extension and prefix searches, a Unicode digit table per character) and
then finding its region (for a shared country code like +1, each region's number patterns tried in turn,
through several lookups per pattern) was about a third of the sandbox's domain code. For such a text the
parse reduces to: the longest-known country code prefix, the rest as national number, unchanged when the
country's national prefix does not start it, possible when its length is one of the country's. Anything
else (a national prefix to strip, a leading zero, odd lengths, an unknown code) is left to phonenumbers:
:func:`read_plus` answers None and the caller parses as before. ``tests/test_sandbox_phones.py`` holds
both functions equal to phonenumbers over numbers of every region.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc

_REGIONS = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
_MAX_COUNTRY_CODE_DIGITS = 3
_MIN_NATIONAL_DIGITS = 2  # phonenumbers' _MIN_LENGTH_FOR_NSN
_MAX_NATIONAL_DIGITS = 17  # phonenumbers' _MAX_LENGTH_FOR_NSN


class PlusNumber(NamedTuple):
    """A ``+`` number read here: its E.164 form (None when it is not a possible number) and its parts."""

    e164: str | None
    country_code: int
    national: str


class _Country(NamedTuple):
    national_prefix: re.Pattern[str] | None  # what parse would strip from the start of the national number
    lengths: frozenset[int]  # national lengths that make a possible number (local-only ones included)


@functools.cache
def _country(code: int) -> _Country | None:
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code)
    )
    if metadata is None:
        return None
    desc = metadata.general_desc
    possible = tuple(desc.possible_length or ()) if desc is not None else ()
    if desc is None or not possible:
        return None  # phonenumbers' own length test would fail on it: let it decide
    # A first length of -1 marks a code with no numbers at all: nothing is possible.
    lengths = (
        frozenset() if possible[0] == -1 else frozenset(possible + tuple(desc.possible_length_local_only))
    )
    prefix = metadata.national_prefix_for_parsing
    return _Country(re.compile(prefix) if prefix else None, lengths)


def read_plus(text: str) -> PlusNumber | None:
    """``text`` read as phonenumbers would read it, or None when only phonenumbers can say."""
    digits = text[1:]
    if not (text.startswith("+") and digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    for size in range(1, _MAX_COUNTRY_CODE_DIGITS + 1):
        code = int(digits[:size])
        if code in _REGIONS:
            break
    else:
        return None
    national = digits[size:]
    if not _MIN_NATIONAL_DIGITS <= len(national) <= _MAX_NATIONAL_DIGITS or national[0] == "0":
        return None
    country = _country(code)
    if country is None or (country.national_prefix is not None and country.national_prefix.match(national)):
        return None
    e164 = f"+{code}{national}" if len(national) in country.lengths else None
    return PlusNumber(e164, code, national)


def region_code(number: PlusNumber) -> str | None:
    """``phonenumbers.region_code_for_number`` of the number: the first of its country code's regions
    whose leading digits start it or whose patterns of any number type match it."""
    regions = _REGIONS.get(number.country_code)
    if not regions:
        return None
    if len(regions) == 1:
        return regions[0]
    for region in regions:
        if _matches(region, number.national):
            return region
    return None


def _matches(region: str, national: str) -> bool:
    leading, by_length = _region_rules(region)
    if leading is not None:
        return leading.match(national) is not None
    pattern = by_length.get(len(national))
    return pattern is not None and pattern.match(national) is not None


# The types phonenumbers' _number_type_helper tries after the general description, in its order.
_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")


@functools.cache
def _region_rules(region: str) -> tuple[re.Pattern[str] | None, dict[int, re.Pattern[str]]]:
    """A region's leading digits, else for each national length one pattern that matches exactly the
    numbers of that length the general description and at least one number type accept."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None, {}  # skipped by phonenumbers too: no pattern, so it never matches
    if metadata.leading_digits is not None:
        return re.compile(metadata.leading_digits), {}
    descs: list[PhoneNumberDesc | None] = [getattr(metadata, name) for name in _TYPES]
    descs.append(metadata.fixed_line)
    # A fixed-line number that is also mobile is still of a type; mobile alone counts only when its
    # pattern differs from the fixed-line one (phonenumbers does not test it otherwise).
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.append(metadata.mobile)
    general = metadata.general_desc
    if general is None:
        return None, {}  # no number of any type passes a missing general description
    by_length: dict[int, re.Pattern[str]] = {}
    for length in range(1, _MAX_NATIONAL_DIGITS + 1):
        if not _accepts_length(general, length):
            continue
        types = [d.national_number_pattern for d in descs if d is not None and _accepts_length(d, length)]
        if types:
            alternatives = "|".join(f"(?:{p})" for p in types)
            # Both must match the whole number: the general description (a lookahead) and one type.
            by_length[length] = re.compile(f"(?=(?:{general.national_number_pattern})$)(?:{alternatives})$")
    return None, by_length


def _accepts_length(desc: PhoneNumberDesc | None, length: int) -> bool:
    """Whether phonenumbers' _is_number_matching_desc gets as far as the pattern for this length."""
    if desc is None or not desc.national_number_pattern:
        return False
    return not desc.possible_length or length in desc.possible_length
