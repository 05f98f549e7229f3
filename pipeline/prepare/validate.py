"""Field-level validation: pandera (polars backend) schemas built from the field specs.

Every check is a polars expression inside a ``pa.Check``, so a whole column is checked at once, and the
schema runs with ``lazy=True`` so every failure of every row is collected. Pandera's failure cases are then
turned into the *failures* frame of docs/architecture.md, one row per (row, column, problem), each with a
message that names the column and the limit and masks personal data.

Keys (Contact ID, Account ID) must not hold invisible characters (:data:`INVISIBLE_PATTERN`): ``ACC-1`` and
``ACC-1`` followed by a zero-width space look the same to the user but would be two records. They are
reported (``invisible_character``, naming the code point and its position), never silently removed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from pipeline.fields import KINDS, LIST_SEPARATOR, ORGANIZATION_KEY, FieldSpec, FieldType, Specs
from pipeline.masking import mask
from pipeline.outcomes import SOURCE_ROW, Reason
from pipeline.prepare.normalize import E164_PATTERN

FAILURE_SCHEMA: dict[str, pl.DataType] = {
    SOURCE_ROW: pl.Int64(),
    "kind": pl.String(),
    "column": pl.String(),
    "code": pl.String(),
    "message": pl.String(),
}

# Pragmatic, not RFC 5322: one @, no spaces, a dotted domain without empty labels.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$"
URL_PATTERN = r"(?i)^https?://(?:[^\s/?#@]+@)?[^\s/?#:@]+(?::\d{1,5})?(?:[/?#]\S*)?$"
# [0-9], not \d: polars' \d matches any Unicode digit, which int()/float() would then take or refuse.
INTEGER_PATTERN = r"^[+-]?[0-9]+$"
DECIMAL_PATTERN = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
)
# Characters a key must not contain, because nobody can see them: controls (Cc; no tab or line break in a
# key either), format characters (Cf: zero-width space/joiners, soft hyphen, BOM, bidi controls, word
# joiner, tag characters), line and paragraph separators (Zl, Zp), and everything else Unicode calls
# Default_Ignorable_Code_Point (variation selectors, Hangul fillers, Mongolian vowel separator, ...).
# Ordinary white space at the ends, NBSP included, is trimmed by normalization before this check.
INVISIBLE_PATTERN = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]"
# Normalization writes E.164 with an optional `;ext=<digits>`; anything else it could not parse.
PHONE_PATTERN = E164_PATTERN

_TYPE_REASON = {
    FieldType.EMAIL: Reason.INVALID_EMAIL,
    FieldType.PHONE: Reason.INVALID_PHONE,
    FieldType.URL: Reason.INVALID_URL,
    FieldType.INTEGER: Reason.INVALID_INTEGER,
    FieldType.DECIMAL: Reason.INVALID_DECIMAL,
    FieldType.BOOLEAN: Reason.INVALID_BOOLEAN,
    FieldType.DATE: Reason.INVALID_DATE,
    FieldType.DATETIME: Reason.INVALID_DATE,
}

_TYPE_PROBLEM = {
    FieldType.EMAIL: "is not a valid email address",
    FieldType.PHONE: (
        "is not a phone number that can be written in E.164 form (e.g. +14155550123); "
        "add the country code or pass --default-region"
    ),
    FieldType.URL: "is not an http(s) URL with a host",
    FieldType.INTEGER: "is not a whole number",
    FieldType.DECIMAL: "is not a number",
    FieldType.BOOLEAN: "is not a yes/no value (true/false, yes/no, 1/0)",
    FieldType.DATE: "is not a date in YYYY-MM-DD form",
    FieldType.DATETIME: "is not an ISO 8601 date-time (e.g. 2024-05-31T14:00:00Z)",
}

_PART_LABEL = {
    "contact": "a contact (the row has contact data)",
    "organization": "an account (the row has account data)",
}


def _valid_as(ftype: FieldType, value: pl.Expr) -> pl.Expr | None:
    """True where a non-null value has the shape ``ftype`` requires; None when any text is fine."""
    match ftype:
        case FieldType.EMAIL:
            return value.str.contains(EMAIL_PATTERN)
        case FieldType.PHONE:
            return value.str.contains(PHONE_PATTERN)
        case FieldType.URL:
            return value.str.contains(URL_PATTERN)
        case FieldType.INTEGER:
            return value.str.contains(INTEGER_PATTERN)
        case FieldType.DECIMAL:
            # 1e400 has the shape of a number but is infinite as a float, and JSON cannot carry it.
            finite = value.cast(pl.Float64, strict=False).is_finite().fill_null(False)
            return value.str.contains(DECIMAL_PATTERN) & finite
        case FieldType.BOOLEAN:
            return value.is_in(["true", "false"])
        case FieldType.DATE:
            # The pattern pins the layout; the parse rejects dates that do not exist (2024-02-30).
            return (
                value.str.contains(DATE_PATTERN) & value.str.to_date("%Y-%m-%d", strict=False).is_not_null()
            )
        case FieldType.DATETIME:
            day = value.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
            return value.str.contains(DATETIME_PATTERN) & day.is_not_null()
    return None


def _shape_ok(ftype: FieldType, value: pl.Expr) -> pl.Expr:
    """:func:`_valid_as` for a type that has a shape to check (a key of ``_TYPE_REASON``)."""
    ok = _valid_as(ftype, value)
    assert ok is not None, f"{ftype} has no shape to check"
    return ok


def _in_range(spec: FieldSpec, value: pl.Expr) -> pl.Expr:
    # Int64 overflow parses to null, which is out of range for every limit we have.
    number = value.str.strip_chars_start("+").cast(pl.Int64, strict=False)
    ok = number.is_not_null()
    if spec.min_value is not None:
        ok = ok & (number >= spec.min_value)
    if spec.max_value is not None:
        ok = ok & (number <= spec.max_value)
    return ~value.str.contains(INTEGER_PATTERN) | ok


def _bad_items(spec: FieldSpec, value: pl.Expr) -> pl.Expr:
    """The list items of ``value`` that are not of the spec's item type, as a list."""
    assert spec.item_type is not None
    item_ok = _shape_ok(spec.item_type, pl.element().str.strip_chars())
    return value.str.split(LIST_SEPARATOR).list.eval(pl.element().filter(~item_ok))


def _part_present(columns: Collection[str], kind: str, constants: Collection[str]) -> pl.Expr:
    """True where the row has any value in a ``kind`` column; constants alone do not make a part.

    An Account ID alone makes no organization part: such a row only links its contact to an account
    that another row (or an earlier import) defines, so it needs no Account Name.
    """
    own = [c for c in columns if c.startswith(f"{kind}.") and c not in constants and c != ORGANIZATION_KEY]
    return pl.any_horizontal(pl.col(own).is_not_null()) if own else pl.lit(False)


def part_presence(frame: pl.DataFrame, constants: Collection[str] = ()) -> dict[str, pl.Expr]:
    """An expression per record kind telling which rows have that part."""
    return {kind: _part_present(frame.columns, kind, constants) for kind in KINDS}


@dataclass(frozen=True)
class _CheckDef:
    """One check on one column: the pandera check plus what its message says."""

    column: str
    reason: Reason
    valid: _Valid


class _Valid(Protocol):
    """A column expression -> where it is valid. A Protocol, not ``Callable[[pl.Expr], pl.Expr]``, so the
    checks' lambdas may bind loop values as default arguments."""

    def __call__(self, value: pl.Expr, /) -> pl.Expr: ...


def _checks_for(spec: FieldSpec, present: Mapping[str, pl.Expr]) -> list[_CheckDef]:
    col = spec.column
    checks: list[_CheckDef] = []
    if spec.required:
        has_part = present[spec.kind]
        checks.append(_CheckDef(col, Reason.REQUIRED, lambda v, p=has_part: v.is_not_null() | ~p))
    if spec.type is FieldType.KEY:
        checks.append(
            _CheckDef(col, Reason.INVISIBLE_CHARACTER, lambda v: ~v.str.contains(INVISIBLE_PATTERN))
        )
    if spec.max_length is not None:
        limit = spec.max_length
        checks.append(_CheckDef(col, Reason.TOO_LONG, lambda v, n=limit: v.str.len_chars() <= n))
    if spec.type is FieldType.LIST and spec.item_type is not None and spec.item_type in _TYPE_REASON:
        checks.append(
            _CheckDef(col, _TYPE_REASON[spec.item_type], lambda v, s=spec: _bad_items(s, v).list.len() == 0)
        )
    elif spec.type in _TYPE_REASON:
        checks.append(_CheckDef(col, _TYPE_REASON[spec.type], lambda v, t=spec.type: _shape_ok(t, v)))
    if spec.type is FieldType.INTEGER and (spec.min_value is not None or spec.max_value is not None):
        checks.append(_CheckDef(col, Reason.OUT_OF_RANGE, lambda v, s=spec: _in_range(s, v)))
    return checks


def _pa_check(check: _CheckDef) -> pa.Check:
    column = pl.col(check.column)
    # Nulls pass every check but `required`, which is written to fail on them itself.
    expr = (
        column.is_null() | check.valid(column) if check.reason is not Reason.REQUIRED else check.valid(column)
    )
    return pa.Check(
        lambda data, e=expr: data.lazyframe.select(e.fill_null(False)),
        name=check.reason.value,
        ignore_na=False,
    )


def build_schema(
    frame: pl.DataFrame, specs: Specs, constants: Collection[str] = ()
) -> tuple[pa.DataFrameSchema, dict[str, FieldSpec]]:
    """The pandera schema for ``frame``'s canonical columns, and the spec of each column it checks."""
    present = part_presence(frame, constants)
    column_specs = {c: s for c in frame.columns if c != SOURCE_ROW and (s := specs.get(c)) is not None}
    columns = {
        c: pa.Column(pl.String, nullable=True, checks=[_pa_check(d) for d in _checks_for(s, present)])
        for c, s in column_specs.items()
    }
    any_part = pl.any_horizontal(*present.values())
    schema = pa.DataFrameSchema(
        columns,
        checks=[pa.Check(lambda data: data.lazyframe.select(any_part), name=Reason.EMPTY_ROW.value)],
        name="contacts",
    )
    return schema, column_specs


def with_required_columns(frame: pl.DataFrame, specs: Specs) -> pl.DataFrame:
    """Add the required columns a file lacks for a part it does carry, so `required` can report them."""
    missing = [
        spec.column
        for spec in specs.all
        if spec.required
        and spec.column not in frame.columns
        and any(c.startswith(f"{spec.kind}.") for c in frame.columns)
    ]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing) if missing else frame


def validate(
    frame: pl.DataFrame,
    specs: Specs,
    headers_for: Mapping[str, str] | None = None,
    *,
    constants: Collection[str] = (),
) -> pl.DataFrame:
    """Check every row of a normalized frame; return the failures frame (empty when all is well)."""
    frame = with_required_columns(frame, specs)
    schema, column_specs = build_schema(frame, specs, constants)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases
    else:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    has_org = part_presence(frame, constants)["organization"]
    return _failures(frame.with_columns(has_org.alias(_HAS_ORG)), cases, column_specs, headers_for or {})


# Whether the row has an account part; without one, its Account ID only links the row's contact.
_HAS_ORG = "__has_org"


def _failures(
    frame: pl.DataFrame,
    cases: pl.DataFrame,
    column_specs: Mapping[str, FieldSpec],
    headers_for: Mapping[str, str],
) -> pl.DataFrame:
    rows = frame.select(SOURCE_ROW, _HAS_ORG).with_row_index("index")
    known = [r.value for r in Reason]
    cases = (
        cases.filter(pl.col("check").is_in(known))
        .select(
            pl.col("index").cast(pl.UInt32),
            pl.col("column"),
            pl.col("check").alias("code"),
            pl.col("failure_case").alias("value"),
        )
        .join(rows, on="index", how="left")
    )
    order = {c: i for i, c in enumerate(column_specs)}
    parts = [_row_failures(cases)]
    for column, spec in column_specs.items():
        mine = cases.filter(pl.col("column") == column)
        if mine.height:
            header = headers_for.get(column) or spec.header
            parts.append(_column_failures(mine, spec, header).with_columns(order=pl.lit(order[column] + 1)))
    failures = pl.concat([p.with_columns(pl.col("order").cast(pl.Int64)) for p in parts], how="vertical")
    return failures.sort([SOURCE_ROW, "order"], maintain_order=True).select(list(FAILURE_SCHEMA))


def _row_failures(cases: pl.DataFrame) -> pl.DataFrame:
    return cases.filter(pl.col("code") == Reason.EMPTY_ROW.value).select(
        pl.col(SOURCE_ROW),
        pl.lit("row").alias("kind"),
        pl.lit(None, dtype=pl.String).alias("column"),
        pl.col("code"),
        pl.lit("the row has no value in any column that maps to a contact or account field").alias("message"),
        pl.lit(0, dtype=pl.Int64).alias("order"),
    )


def _shown(value: pl.Expr, spec: FieldSpec) -> pl.Expr:
    """A cell value as messages show it: quoted, and masked when it is personal data."""
    if spec.pii:
        value = value.map_elements(lambda v: mask(v, spec.type.value), return_dtype=pl.String)
    return pl.lit("'") + value + pl.lit("'")


def _invisible_problem(value: str, found: list[str]) -> str:
    """``found`` (the invisible characters of ``value``, in order) described: the first one, named, and
    where it is (1-based, in characters)."""
    if not found:  # the expression runs on the column's other failures too
        return ""
    char = found[0]
    name = unicodedata.name(char, "") or (
        "a control character" if unicodedata.category(char) == "Cc" else "unassigned"
    )
    where = f"U+{ord(char):04X} ({name}) at position {value.index(char) + 1}"
    if len(found) == 1:
        return f"contains an invisible character {where}; remove it"
    return f"contains {len(found)} invisible characters, the first {where}; remove them"


def _column_failures(cases: pl.DataFrame, spec: FieldSpec, header: str) -> pl.DataFrame:
    value = pl.col("value")
    code = pl.col("code")
    limits = f"{spec.min_value if spec.min_value is not None else ''}..{spec.max_value or ''}"
    item_problem = _TYPE_PROBLEM.get(spec.item_type) if spec.item_type else None
    by_code = (
        pl.when(code == Reason.REQUIRED.value)
        .then(pl.lit(f"required for {_PART_LABEL[spec.kind]} but empty"))
        .when(code == Reason.TOO_LONG.value)
        .then(
            pl.lit("")
            + value.str.len_chars().cast(pl.String)
            + pl.lit(f" characters; the limit is {spec.max_length}")
        )
        .when(code == Reason.OUT_OF_RANGE.value)
        .then(_shown(value, spec) + pl.lit(f" is outside the allowed range {limits}"))
        .when(code == Reason.INVISIBLE_CHARACTER.value)
        .then(
            pl.struct(value, value.str.extract_all(INVISIBLE_PATTERN).alias("found")).map_elements(
                lambda r: _invisible_problem(r["value"], r["found"]), return_dtype=pl.String
            )
        )
    )
    if item_problem:
        bad = _bad_items(spec, value)
        shown = bad.list.eval(_shown(pl.element(), spec)).list.join(", ")
        detail = by_code.otherwise(
            pl.when(bad.list.len() == 1)
            .then(pl.lit("item ") + shown + pl.lit(f" {item_problem}"))
            .otherwise(pl.lit("items ") + shown + pl.lit(" " + item_problem.replace("is ", "are ", 1)))
        )
    else:
        detail = by_code.otherwise(
            _shown(value, spec) + pl.lit(" " + _TYPE_PROBLEM.get(spec.type, "is invalid"))
        )
    kind = pl.lit(spec.kind)
    if spec.column == ORGANIZATION_KEY:
        # On a row without account data the Account ID is the contact's link: the contact is what fails.
        kind = pl.when(pl.col(_HAS_ORG)).then(kind).otherwise(pl.lit("contact"))
    return cases.select(
        pl.col(SOURCE_ROW),
        kind.alias("kind"),
        pl.lit(header).alias("column"),
        code,
        (pl.lit(f"{header}: ") + detail).alias("message"),
    )
