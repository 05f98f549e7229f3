"""Normalize a canonical frame: the user's text made comparable, before validation reports what is left.

Every value is put in Unicode NFC form, trimmed, a blank value becomes null, and the quote that
:mod:`pipeline.csvsafe` puts before formula-looking cells on export is removed. NFC makes ``é`` typed as one
code point and ``e`` + combining accent (NFD, as macOS file names and some exports write it) one value, so
grouping compares them as equal and Genesys receives the composed form. Trimming removes Unicode
``White_Space`` at both ends, which includes the no-break spaces U+00A0 and U+202F (a key ``ACC-1`` copied
with a trailing NBSP is ``ACC-1``); inside a value they are kept. Invisible characters (zero-width, soft
hyphen, BOM, bidi and control characters) are not white space and are not removed: in a key, validation
reports them (``invisible_character``). Then, by the column's field type:

- phone: E.164 (``+14155550123``), an extension kept as ``+14155550123;ext=42``. A number without a
  country code is read in the row's own country when the same record kind's ``address.countryCode`` holds
  an ISO 3166 alpha-2 code (``UK`` is taken as ``GB``), otherwise in ``default_region``. Numbers
  ``phonenumbers`` cannot parse, or whose length is impossible for their country, stay as trimmed text;
  whether the range is actually assigned is not checked. Values already in E.164 form are kept as they
  are without asking ``phonenumbers`` (the slow part, about 17 us a number). The common shapes of the
  others (``+<country code> <national>``, national numbers, in digits and spaces, dashes, dots or
  parentheses) are read in polars from ``phonenumbers``' own metadata (:mod:`pipeline.prepare.phones`), with
  the same result; the rest cost one parse per distinct value.
- email: the domain lower-cased; the local part is kept, since some mail servers treat it case-sensitively.
- boolean: yes/no, true/false, y/n, 1/0 in any case become ``true``/``false``; anything else is kept.
- list: ``;``-separated items trimmed, empty items dropped, joined again with ``;``.
- integer: digit grouping with commas or spaces (``1,200``, ``1 200``) is removed when it is unambiguous
  (groups of exactly three digits). ``1.200`` is left alone: it means 1200 in some locales and 1.2 in
  others, so validation reports it.

Same rows, same order, same columns: only values change.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers
import polars as pl

from pipeline.csvsafe import PREFIX, unescape_expr
from pipeline.errors import ConfigError
from pipeline.fields import LIST_SEPARATOR, FieldType, Specs
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare.phones import fast_e164, to_e164

# A normalized phone as the validator should accept it: E.164 (at most 15 digits) and an optional extension.
# ASCII digits spelled out: `\d` is Unicode-aware in polars' regex engine and would pass Arabic-Indic digits.
E164_PATTERN = r"^\+[1-9][0-9]{1,14}(;ext=[0-9]{1,10})?$"
_E164_RE = re.compile(E164_PATTERN)
# Already-normalized numbers (our own output included, extension and all) skip phonenumbers: parsing
# them again could change them (a leading 0 read as a national prefix), and normalizing must be
# idempotent. National significant numbers have at least 6 digits.
_FAST_E164 = r"^\+[1-9][0-9]{6,14}(;ext=[0-9]{1,10})?$"
_REGION_ALIASES = {"UK": "GB"}
_KEY_SEPARATOR = "\x1f"

TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")
_GROUPED_BY_COMMAS = r"^[+-]?[0-9]{1,3}(,[0-9]{3})+$"
_GROUPED_BY_SPACES = r"^[+-]?[0-9]{1,3}([ \u00a0\u202f][0-9]{3})+$"


def check_region(region: str) -> str:
    """``region`` as an upper-case ISO 3166 alpha-2 code phonenumbers knows; :class:`ConfigError` if not."""
    code = region.strip().upper()
    code = _REGION_ALIASES.get(code, code)
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"unknown default region {region!r}: use an ISO 3166 two-letter country code such as US, GB or DE"
        )
    return code


def is_valid_e164(value: str) -> bool:
    """Whether a normalized phone value has the E.164 shape (:data:`E164_PATTERN`)."""
    return _E164_RE.fullmatch(value) is not None


def normalize(frame: pl.DataFrame, specs: Specs, default_region: str = "US") -> pl.DataFrame:
    """Normalize every canonical column of ``frame`` according to its field spec."""
    region = check_region(default_region)
    columns = [c for c in frame.columns if c != SOURCE_ROW]
    cleaned = _clean_columns(frame, columns)
    cleaned = cleaned.with_columns(_by_type(cleaned.get_column(c), specs) for c in columns)
    phones = _phone_columns(columns, specs)
    if phones:
        cleaned = _normalize_phones(cleaned, phones, specs, region)
    return cleaned


def _clean_columns(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Every column in NFC and trimmed, the formula escape undone, blank as null: one materialized step at a
    time.

    Polars evaluates a sub-expression once per reference to it, and the steps refer to their input several
    times: chained into one expression (and then into the type rules), trimming and unescaping ran a dozen
    times per value, ten times slower on a million rows than these three passes.
    """
    stripped = frame.with_columns(pl.col(c).cast(pl.String).str.strip_chars() for c in columns)
    composed = stripped.with_columns(_composed(stripped.get_column(c)) for c in columns)
    unescaped = composed.with_columns(_unescaped(composed.get_column(c)) for c in columns)
    return unescaped.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in columns
    )


def _composed(values: pl.Series) -> pl.Series:
    """``values`` in NFC. ASCII text is NFC already, and composing costs about 1 us a value: only the
    values with a non-ASCII character are composed (typically a few percent of the names and addresses;
    rarely a key, email, phone or number)."""
    return _where(values, values.str.len_bytes() != values.str.len_chars(), lambda v: v.str.normalize("NFC"))


def _unescaped(values: pl.Series) -> pl.Series:
    """``values`` with the formula escape undone; only a value starting with a quote can carry it (and the
    values were trimmed already), so the others skip the rule's two regexes."""
    return _where(values, values.str.starts_with(PREFIX), lambda v: unescape_expr(v).str.strip_chars())


def _where(values: pl.Series, needed: pl.Series, rule: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """``values`` with ``rule`` applied to the ``needed`` ones only, the others (the rule would leave them
    as they are) untouched: polars evaluates a rule on every value even inside ``when``, and most values
    need none of the costly ones (a regex split, composing)."""
    if not needed.any():
        return values
    return values.clone().scatter(needed.arg_true(), _apply(values.filter(needed), rule))


def _apply(values: pl.Series, rule: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """``rule`` evaluated on ``values``, keeping their name."""
    return values.to_frame().select(rule(pl.col(values.name)).alias(values.name)).to_series()


def _by_type(values: pl.Series, specs: Specs) -> pl.Series:
    """The type rule for a column already cleaned by :func:`_clean_columns`."""
    spec = specs.get(values.name)
    if spec is None:
        return values
    match spec.type:
        case FieldType.EMAIL:
            # Only a value that lower-casing changes can have a domain to lower-case.
            needed = values.str.contains("@", literal=True) & (values != values.str.to_lowercase())
            return _where(values, needed, _email)
        case FieldType.BOOLEAN:
            return _apply(values, _boolean)
        case FieldType.LIST:
            # Cleaned values are trimmed and not empty: without a separator the rule keeps them as they are.
            return _where(values, values.str.contains(LIST_SEPARATOR, literal=True), _list)
        case FieldType.INTEGER:
            return _apply(values, _integer)
    return values


def _email(text: pl.Expr) -> pl.Expr:
    local = text.str.extract(r"^(.*)@[^@]*$", 1)
    domain = text.str.extract(r"@([^@]*)$", 1).str.to_lowercase()
    return pl.when(text.str.contains("@", literal=True)).then(local + "@" + domain).otherwise(text)


def _boolean(text: pl.Expr) -> pl.Expr:
    lower = text.str.to_lowercase()
    return (
        pl.when(lower.is_in(TRUE_WORDS))
        .then(pl.lit("true"))
        .when(lower.is_in(FALSE_WORDS))
        .then(pl.lit("false"))
        .otherwise(text)
    )


def _list(text: pl.Expr) -> pl.Expr:
    items = text.str.split(LIST_SEPARATOR).list.eval(
        pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != "")
    )
    joined = items.list.join(LIST_SEPARATOR)
    return pl.when(joined == "").then(None).otherwise(joined)


def _integer(text: pl.Expr) -> pl.Expr:
    grouped = text.str.contains(_GROUPED_BY_COMMAS) | text.str.contains(_GROUPED_BY_SPACES)
    return pl.when(grouped).then(text.str.replace_all(r"[, \u00a0\u202f]", "")).otherwise(text)


def phone_mapping(keys: pl.Series, fast: bool = True) -> pl.DataFrame:
    """``old`` (each distinct region-and-text key) and ``new`` (its E.164, null when it has none), as
    :func:`normalize` reads them. ``fast=False`` parses every key with ``phonenumbers``, which is what the
    fast path is checked against.
    """
    parts = keys.str.split_exact(_KEY_SEPARATOR, 1).struct.unnest()
    regions, texts = parts.get_column("field_0"), parts.get_column("field_1")
    if fast:
        new = _read_phones(regions, texts)
    else:
        new = pl.Series([to_e164(r, t) for r, t in zip(regions, texts, strict=True)], dtype=pl.String)
    return pl.DataFrame({"old": keys, "new": new}, schema={"old": pl.String, "new": pl.String})


def _read_phones(regions: pl.Series, texts: pl.Series) -> pl.Series:
    """Each text read in its region as E.164 (null when it has none): the common shapes in polars
    (:func:`fast_e164`), the rest one ``phonenumbers`` parse per distinct region and text."""
    answered = fast_e164(regions, texts)
    e164, resolved = answered.get_column("e164"), answered.get_column("resolved")
    if resolved.all():
        return e164
    unresolved = pl.DataFrame({"region": regions.filter(~resolved), "text": texts.filter(~resolved)})
    distinct = unresolved.unique(maintain_order=True)
    parsed = distinct.with_columns(
        pl.Series("e164", [to_e164(r, t) for r, t in distinct.iter_rows()], dtype=pl.String)
    )
    slow = unresolved.join(parsed, on=["region", "text"], how="left", maintain_order="left")
    return e164.scatter((~resolved).arg_true(), slow.get_column("e164"))


def _region_expr(column: str, frame: pl.DataFrame, default_region: str) -> pl.Expr:
    kind = column.split(".", 1)[0]
    country = f"{kind}.address.countryCode"
    if country not in frame.columns:
        return pl.lit(default_region)
    code = pl.col(country).str.strip_chars().str.to_uppercase().replace(_REGION_ALIASES)
    known = code.is_in(sorted(phonenumbers.SUPPORTED_REGIONS))
    return pl.when(known).then(code).otherwise(pl.lit(default_region))


def phone_keys(frame: pl.DataFrame, specs: Specs, default_region: str = "US") -> pl.Series:
    """The distinct region-and-text keys :func:`normalize` parses for ``frame``: what the bench checks the
    fast path on."""
    region = check_region(default_region)
    columns = [c for c in frame.columns if c != SOURCE_ROW]
    cleaned = _clean_columns(frame, columns)
    keyed, keys = _keyed(cleaned, _phone_columns(columns, specs), region)
    return _distinct(keyed, keys)


def _phone_columns(columns: list[str], specs: Specs) -> list[str]:
    return [c for c in columns if (spec := specs.get(c)) is not None and spec.type == FieldType.PHONE]


def _keyed(
    frame: pl.DataFrame, columns: list[str], default_region: str
) -> tuple[pl.DataFrame, dict[str, str]]:
    """``frame`` with one key column per phone column: the region the value is read in, then the text; null
    for nulls and values already in E.164 form."""
    keys = {c: f"__phone_key_{i}" for i, c in enumerate(columns)}
    keyed = frame.with_columns(
        pl.when(pl.col(c).is_null() | pl.col(c).str.contains(_FAST_E164))
        .then(None)
        .otherwise(_region_expr(c, frame, default_region) + _KEY_SEPARATOR + pl.col(c))
        .alias(key)
        for c, key in keys.items()
    )
    return keyed, keys


def _distinct(keyed: pl.DataFrame, keys: dict[str, str]) -> pl.Series:
    return pl.concat([keyed.get_column(key) for key in keys.values()]).drop_nulls().unique()


def _normalize_phones(
    frame: pl.DataFrame, columns: list[str], specs: Specs, default_region: str
) -> pl.DataFrame:
    """Every phone column's values read as E.164 where they stand, in one pass over all of them; a value
    with no E.164 stays as it is (validation reports it).

    Nearly every number of a file is distinct (88 % of a bench chunk's): reading each where it stands
    costs less than finding the distinct ones and mapping the results back, which took a third of the
    phone step. Only the few the fast path leaves to ``phonenumbers`` are parsed once per distinct value.
    """
    pending = pl.concat(
        frame.select(
            pl.lit(i, pl.UInt16).alias("column"),
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
            _region_expr(c, frame, default_region).alias("region"),
            pl.col(c).alias("text"),
        ).filter(pl.col("text").is_not_null() & ~pl.col("text").str.contains(_FAST_E164))
        for i, c in enumerate(columns)
    )
    read = pending.select(
        "column", "row", _read_phones(pending.get_column("region"), pending.get_column("text"))
    ).filter(pl.col("e164").is_not_null())
    updated = []
    for i, c in enumerate(columns):
        mine = read.filter(pl.col("column") == i)
        updated.append(frame.get_column(c).clone().scatter(mine.get_column("row"), mine.get_column("e164")))
    return frame.with_columns(updated)


def phone_to_e164(text: str, region: str = "US") -> str | None:
    """One phone in the form :func:`normalize` gives it (E.164, ``;ext=`` kept), or None when it does not
    parse; for code that meets phones one by one (the duplicate scan), not in a frame."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(_FAST_E164, text):
        return text
    return to_e164(region, text)
