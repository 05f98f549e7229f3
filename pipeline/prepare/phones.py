"""Phone numbers to E.164, the common shapes in polars and the rest with ``phonenumbers``.

``phonenumbers.parse`` costs about 17 us a number, which on a large file is most of the local stage. Most
numbers are written in one of two plain shapes: ``+<country code><national number>`` or a national number
(with or without the region's trunk prefix), in digits separated by spaces, dashes, dots or parentheses.
For those shapes ``parse`` + ``is_possible_number`` + E.164 formatting come down to a few steps driven by
``phonenumbers``' own metadata (country calling codes, the national prefix for parsing, the general
national number pattern, possible lengths), and :func:`fast_e164` runs those steps on whole columns.

More of ``parse`` is taken in polars as well: a national number that starts with the region's own country
calling code (``1-371-213-7973`` in CA, ``4930...`` in DE) gets ``parse``'s decision whether that code is
a country code (:func:`_own_country_code`), one that starts with the region's international prefix is read
as ``parse`` reads it (:func:`_international_prefix`), and an extension written `` ext. 1234``, `` x1234``,
``,1234`` and the like is split off as ``parse``'s extension pattern would split it (:data:`_EXTENDED`).

The fast path answers a key only when its steps are *exactly* the ones ``parse`` would take; anything else
(other characters or extension labels, a country code no region uses, a region whose national prefix has
a transform rule or a regex polars cannot compile) is left unresolved and goes through :func:`to_e164`.
``tests/test_phones.py`` checks the two agree on generated numbers of every region, and
``bench/local_stage.py`` checks them on every number of the bench file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata, PhoneNumberDesc

E164_MAX_LENGTH = 16  # "+" and at most 15 digits
# phonenumbers' own bounds on a national significant number (_MIN/_MAX_LENGTH_FOR_NSN).
_NSN_MIN, _NSN_MAX = 2, 17
# Digits, a few separators and at most one leading "+": no letters (extensions, vanity numbers), no other
# "+" and nothing RFC 3966. Longer text goes the slow way; it is not a common shape.
_SIMPLE_SHAPE = r"^\+?[0-9 ().\-]{3,40}$"
# The same number followed by an extension in forms that parse's _EXTN_PATTERN (case-insensitive, searched
# from the left, anchored at the end) splits at the label: an explicit label ("ext", "ext.", "extn",
# "extension") takes at most 20 digits, "x" or commas at most 9; more digits and parse finds no extension,
# so those stay on the slow path. The number's characters cannot start a label, so the split is the same.
# Groups: the number, then the extension digits of each alternative.
_EXTENDED = (
    r"^(\+?[0-9 ().\-]{3,40}?)"
    r"(?:[ ,]*(?i:ext|extn|extension)\.?[ ]*([0-9]{1,20})"
    r"|[ ]*(?i:x)[ ]*([0-9]{1,9})"
    r"|[ ]*,[ ]*([0-9]{1,9}))$"
)
_MAX_LENGTH = 64


def to_e164(region: str, text: str) -> str | None:
    """``text`` read in ``region`` as E.164 (``;ext=`` kept), or None when it is not a possible number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # "Possible" (right length for its country) rather than "valid" (an assigned range): it costs a tenth,
    # matches what the E.164 fast path checks, and does not reject new or fictional ranges.
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) > E164_MAX_LENGTH:  # "possible" national lengths can exceed E.164's 15 digits (DE)
        return None
    return f"{e164};ext={number.extension}" if number.extension else e164


@dataclass(frozen=True)
class _Rules:
    """What ``parse`` needs from one region's metadata, as polars regexes and length sets."""

    country_code: str
    main_region: str  # the country code's main region, whose metadata parse uses once it has taken the code
    national_prefix: str | None  # "^(?:...)", or None when the region strips none
    transform: str | None  # the national prefix's replacement in polars syntax (``${1}``), if it has one
    last_group: int  # the national prefix's last capture group: the transform applies when it matched
    national_pattern: str  # "^(?:...)$": the general description's national number pattern
    strip_lengths: tuple[int, ...]  # lengths after stripping for which parse keeps the stripped number
    possible_lengths: tuple[
        int, ...
    ]  # lengths is_possible_number accepts (for the country code's main region)
    international_prefix: str | None  # "^(?:...)" of the region's own IDD
    long_lengths: tuple[int, ...]  # lengths _test_number_length calls TOO_LONG for this region


def _length_result(length: int, desc: PhoneNumberDesc) -> str:
    """``phonenumbers``' ``_test_number_length`` for a general description, by name."""
    possible = desc.possible_length
    if length in (desc.possible_length_local_only or ()):
        return "local"
    if possible[0] == length:
        return "possible"
    if possible[0] > length:
        return "short"
    if possible[-1] < length:
        return "long"
    return "possible" if length in possible[1:] else "invalid"


def _compiles(pattern: str) -> bool:
    try:
        pl.select(pl.lit("0").str.contains(pattern)).item()
    except pl.exceptions.ComputeError:
        return False
    return True


@cache
def _rules(region: str) -> _Rules | None:
    """The fast path's rules for ``region``, or None when ``region`` must always go through ``parse``."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.country_code is None or metadata.general_desc is None:
        return None
    main_region = phonenumbers.region_code_for_country_code(metadata.country_code)
    main = PhoneMetadata.metadata_for_region(main_region, None)
    desc, pattern = metadata.general_desc, metadata.general_desc.national_number_pattern
    if main is None or main.general_desc is None or not pattern:
        return None
    main_desc = main.general_desc
    prefix = metadata.national_prefix_for_parsing
    idd = metadata.international_prefix
    groups = re.compile(prefix).groups if prefix else 0
    transform = metadata.national_prefix_transform_rule or None
    if transform is not None:
        # Python's "\1" as polars' "${1}"; any other escape (or none to match) and parse decides.
        transform = re.sub(r"\\([0-9])", r"${\1}", transform)
        if "\\" in transform or groups == 0:
            return None
    rules = _Rules(
        country_code=str(metadata.country_code),
        main_region=main_region,
        national_prefix=f"^(?:{prefix})" if prefix else None,
        transform=transform,
        last_group=groups,
        national_pattern=f"^(?:{pattern})$",
        strip_lengths=tuple(n for n in range(_MAX_LENGTH) if _length_result(n, desc) in ("possible", "long")),
        possible_lengths=tuple(
            n for n in range(_MAX_LENGTH) if _length_result(n, main_desc) in ("possible", "local")
        ),
        international_prefix=f"^(?:{idd})" if idd else None,
        long_lengths=tuple(n for n in range(_MAX_LENGTH) if _length_result(n, desc) == "long"),
    )
    regexes = [rules.national_pattern, rules.national_prefix, rules.international_prefix]
    return rules if all(_compiles(r) for r in regexes if r is not None) else None


@cache
def _country_codes() -> dict[str, str | None]:
    """Every country calling code with the region whose metadata ``parse`` then uses; None for the
    non-geographic ones (+800, +882...), which go through ``parse``."""
    codes: dict[str, str | None] = {}
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        region = phonenumbers.region_code_for_country_code(code)
        codes[str(code)] = region if region in phonenumbers.SUPPORTED_REGIONS else None
    return codes


def fast_e164(regions: pl.Series, texts: pl.Series) -> pl.DataFrame:
    """For each (region, text) that has a common shape: ``resolved`` true and ``e164`` what :func:`to_e164`
    returns for it (null when that is None). Other rows: ``resolved`` false, and they need :func:`to_e164`.

    ``texts`` are trimmed values that are not already E.164. Works on any chunk of rows.
    """
    frame = pl.DataFrame({"region": regions, "text": texts}).with_row_index("__i")
    numbers = _national_numbers(_shapes(frame))
    parts = []
    for (region,), part in numbers.filter(pl.col("rules_region").is_not_null()).group_by(
        "rules_region", maintain_order=True
    ):
        rules = _rules(str(region))
        if rules is not None:
            parts.append(_resolve(part, rules))
    resolved = pl.concat(parts) if parts else pl.DataFrame(schema={"__i": pl.UInt32, "e164": pl.String})
    return frame.join(
        resolved.with_columns(pl.lit(True).alias("resolved")), on="__i", how="left", maintain_order="left"
    ).select(pl.col("resolved").fill_null(False), pl.col("e164"))


def _shapes(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of a common shape, with the number's ``digits``, whether it has a ``plus`` and the
    ``extension`` parse would split off (null when none)."""
    text = pl.col("text")
    plain = text.str.contains(_SIMPLE_SHAPE)
    # The extension's regex only runs on the few rows that are not plain numbers.
    extended = (
        frame.filter(~plain)
        .with_columns(text.str.extract_groups(_EXTENDED).alias("groups"))
        .with_columns(
            pl.col("groups").struct.field("1").alias("number"),
            pl.coalesce(pl.col("groups").struct.field(g) for g in ("2", "3", "4")).alias("extension"),
        )
        .drop("groups")
    )
    numbers = pl.concat(
        [
            frame.filter(plain).with_columns(
                text.alias("number"), pl.lit(None, pl.String).alias("extension")
            ),
            extended,
        ]
    )
    return (
        numbers.filter(pl.col("number").is_not_null())
        .with_columns(
            pl.col("number").str.replace_all(r"[^0-9]", "").alias("digits"),
            pl.col("number").str.starts_with("+").alias("plus"),
        )
        # parse rejects fewer digits (TOO_SHORT or not viable), and with fewer than three before an
        # extension it would not split the extension off.
        .filter(pl.col("digits").str.len_bytes() >= 3)
    )


def _national_numbers(shaped: pl.DataFrame) -> pl.DataFrame:
    """``parse``'s country code step: the ``national`` number, the country code ``cc`` it took (null when it
    took none) and the ``rules_region`` whose metadata it goes on with (null when the fast path has none)."""
    domestic, abroad = [], [shaped.filter(pl.col("plus"))]
    for (region,), part in shaped.filter(~pl.col("plus")).group_by("region", maintain_order=True):
        rules = _rules(str(region))
        if rules is not None:
            part = _international_prefix(part, rules)
            abroad.append(part.filter(pl.col("plus")))
            domestic.append(_own_country_code(part.filter(~pl.col("plus")), str(region), rules))
    codes = _country_codes()
    digits = pl.col("digits")
    country = pl.coalesce(
        pl.when(digits.str.slice(0, n).is_in(list(codes))).then(digits.str.slice(0, n)) for n in (1, 2, 3)
    )
    international = (
        pl.concat(abroad)
        .filter(digits.str.len_bytes() >= 3)  # parse: TOO_SHORT_AFTER_IDD
        .with_columns(country.alias("cc"))
        .with_columns(
            digits.str.slice(pl.col("cc").str.len_bytes()).alias("national"),
            pl.col("cc").replace_strict(codes, default=None, return_dtype=pl.String).alias("rules_region"),
        )
    )
    return pl.concat([international, *domestic], how="diagonal_relaxed")


def _international_prefix(part: pl.DataFrame, rules: _Rules) -> pl.DataFrame:
    """``_maybe_strip_i18n_prefix_and_normalize`` for numbers without "+": one that starts with the region's
    international prefix, not followed by a 0, is read as "+" and the rest (``plus`` set, ``digits`` the
    rest); with a 0 after it the prefix is part of a national number."""
    if rules.international_prefix is None:
        return part
    digits = pl.col("digits")
    # The prefix's match is the same with or without the optional digit after it: that digit always matches.
    after = digits.str.extract(f"{rules.international_prefix}([0-9]?)", 1)
    dialled = after.is_not_null() & (after != "0")
    return part.with_columns(
        pl.when(dialled).then(digits.str.replace(rules.international_prefix, "")).otherwise(digits),
        dialled.alias("plus"),
    )


def _own_country_code(part: pl.DataFrame, region: str, rules: _Rules) -> pl.DataFrame:
    """``_maybe_extract_country_code`` for numbers without "+" or international prefix in ``region``: one
    that starts with the region's own code loses it when the whole is not a national number but the rest is
    (its national prefix stripped first), or when the whole is too long; parse then goes on with the code's
    main region."""
    digits = pl.col("digits")
    own = digits.str.starts_with(rules.country_code)
    rest = digits.str.slice(len(rules.country_code))
    # parse strips nothing from an empty rest (a number that is only the country code).
    rest = pl.when(rest == "").then(rest).otherwise(_strip_national_prefix(rest, rules))
    taken = (~digits.str.contains(rules.national_pattern) & rest.str.contains(rules.national_pattern)) | (
        digits.str.len_bytes().is_in(list(rules.long_lengths))
    )
    # Only the few numbers that start with the code pay for the regexes.
    decided = part.filter(own).with_columns(
        pl.when(taken).then(rest).otherwise(digits).alias("national"),
        pl.when(taken).then(pl.lit(rules.country_code)).alias("cc"),
        pl.when(taken).then(pl.lit(rules.main_region)).otherwise(pl.lit(region)).alias("rules_region"),
    )
    others = part.filter(~own).with_columns(
        digits.alias("national"), pl.lit(None, pl.String).alias("cc"), pl.lit(region).alias("rules_region")
    )
    return pl.concat([decided, others])


def _strip_national_prefix(nsn: pl.Expr, rules: _Rules) -> pl.Expr:
    """``_maybe_strip_national_prefix_carrier_code``: the national prefix stripped (or transformed) when it
    matches, unless the number was a national number and would no longer be one."""
    if rules.national_prefix is None:
        return nsn
    stripped = nsn.str.replace(rules.national_prefix, "")
    if rules.transform is not None:
        # parse transforms only when the prefix's last group took part in the match, else strips.
        transformed = nsn.str.replace(rules.national_prefix, rules.transform)
        took_part = nsn.str.extract(rules.national_prefix, rules.last_group).is_not_null()
        stripped = pl.when(took_part).then(transformed).otherwise(stripped)
    matched = nsn.str.contains(rules.national_prefix)
    viable_before = nsn.str.contains(rules.national_pattern)
    viable_after = stripped.str.contains(rules.national_pattern)
    return pl.when(matched & ~(viable_before & ~viable_after)).then(stripped).otherwise(nsn)


def _resolve(part: pl.DataFrame, rules: _Rules) -> pl.DataFrame:
    """``parse`` from its national prefix step on, for rows whose metadata is ``rules``: the prefix stripped
    when the rest has a length parse accepts, then the possible-length and E.164-length checks, and the
    extension appended as :func:`to_e164` appends it."""
    national = pl.col("national")
    if rules.national_prefix is not None:
        # The prefix's regexes (and the national pattern's, the costly ones) only run on the numbers whose
        # start matches it: polars evaluates both sides of a `when` on every row. Rows are matched by `__i`.
        matched = national.str.contains(rules.national_prefix)
        part = pl.concat(
            [
                part.filter(matched).with_columns(_strip_national_prefix(national, rules).alias("candidate")),
                part.filter(~matched).with_columns(national.alias("candidate")),
            ]
        )
    else:
        part = part.with_columns(national.alias("candidate"))
    candidate = pl.col("candidate")
    nsn = (
        pl.when(candidate.str.len_bytes().is_in(list(rules.strip_lengths)))
        .then(candidate)
        .otherwise(national)
    )
    length = nsn.str.len_bytes()
    code = pl.coalesce(pl.col("cc"), pl.lit(rules.country_code))
    e164 = pl.lit("+") + code + nsn
    possible = (
        (national.str.len_bytes() >= _NSN_MIN)  # parse's TOO_SHORT_NSN, before the prefix is stripped
        & length.is_between(_NSN_MIN, _NSN_MAX)
        & length.is_in(list(rules.possible_lengths))
        & (e164.str.len_bytes() <= E164_MAX_LENGTH)
    )
    with_extension = (
        pl.when(pl.col("extension").is_null()).then(e164).otherwise(e164 + ";ext=" + pl.col("extension"))
    )
    return part.select("__i", pl.when(possible).then(with_extension).alias("e164"))
