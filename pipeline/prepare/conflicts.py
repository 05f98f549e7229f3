"""Conflict detection: rows of one key that disagree, and identifiers that several contacts share.

Pure functions of frames; :mod:`pipeline.prepare.group` turns what they find into row outcomes and
warnings. Both are order-sensitive only through ``source_row``: rows are compared in file order.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from pipeline.fields import CONTACT_KEY, FieldType, Specs
from pipeline.masking import mask
from pipeline.outcomes import SOURCE_ROW

# Messages quote at most this much of a disagreeing value, and only for fields that are not personal data.
_QUOTE_LIMIT = 40


def _label(column: str, specs: Specs, headers_for: Mapping[str, str]) -> str:
    if column in headers_for:
        return headers_for[column]
    spec = specs.get(column)
    return spec.header if spec else column


def disagreements(
    rows: pl.DataFrame, key: str, fields: list[str], specs: Specs, headers_for: Mapping[str, str]
) -> pl.DataFrame:
    """``key`` -> one message per key whose rows carry different non-blank values in some field.

    ``rows`` has ``source_row``, ``key`` and ``fields``; the message names the fields by input header and
    the rows that hold a value for them, e.g. ``Account ID ACC-7: rows 5, 9 disagree on Account Name``.
    """
    empty = pl.DataFrame(schema={key: pl.String, "message": pl.String, "first_row": pl.Int64})
    if not fields or rows.is_empty():
        return empty
    conflicting = _conflicting_fields(_suspect_rows(rows, key, fields), key, fields)
    if conflicting.is_empty():
        return empty
    return _conflict_messages(conflicting, key, fields, specs, headers_for)


def _suspect_rows(rows: pl.DataFrame, key: str, fields: list[str]) -> pl.DataFrame:
    """The rows of keys on several rows with two distinct values in some field: the only ones that can
    disagree.

    This wide check is cheap; it keeps the long unpivot that follows to those few keys, where a million
    rows would otherwise become tens of millions of (key, field, value) rows (seconds and gigabytes).
    """
    suspects = (
        rows.filter(pl.col(key).is_duplicated())
        .group_by(key)
        .agg(pl.col(f).drop_nulls().n_unique() for f in fields)
        .filter(pl.any_horizontal(pl.col(f) > 1 for f in fields))
        .select(key)
    )
    return rows.join(suspects, on=key, how="semi", nulls_equal=True, maintain_order="left")


def _conflicting_fields(rows: pl.DataFrame, key: str, fields: list[str]) -> pl.DataFrame:
    """Per key and field with several distinct non-blank values: the rows holding one and the values."""
    return (
        rows.unpivot(index=[SOURCE_ROW, key], on=fields, variable_name="field", value_name="value")
        .drop_nulls("value")
        .group_by(key, "field")
        .agg(
            pl.col("value").n_unique().alias("distinct"),
            pl.col(SOURCE_ROW).unique().sort().alias("rows"),
            pl.col("value").unique(maintain_order=True).alias("values"),
        )
        .filter(pl.col("distinct") > 1)
    )


def _conflict_messages(
    conflicting: pl.DataFrame, key: str, fields: list[str], specs: Specs, headers_for: Mapping[str, str]
) -> pl.DataFrame:
    """One message per key naming its disagreeing fields in column order (values quoted unless personal)."""
    labels = {f: _label(f, specs, headers_for) for f in fields}
    quotable = [f for f in fields if not ((s := specs.get(f)) and s.pii)]
    position = {f: i for i, f in enumerate(fields)}
    quoted = (
        pl.col("values")
        .list.eval(pl.lit("'") + pl.element().str.slice(0, _QUOTE_LIMIT) + pl.lit("'"))
        .list.join(" vs ")
    )
    described = conflicting.with_columns(
        pl.col("field").replace_strict(position, return_dtype=pl.Int64).alias("position"),
        pl.col("rows").list.eval(pl.element().cast(pl.String)).list.join(", ").alias("row_list"),
        pl.when(pl.col("field").is_in(quotable))
        .then(pl.lit(" (") + quoted + pl.lit(")"))
        .otherwise(pl.lit(""))
        .alias("values_text"),
        pl.col("field").replace_strict(labels, return_dtype=pl.String).alias("label"),
    ).sort(key, "position")
    key_label = _label(key, specs, headers_for)
    detail = (
        pl.lit("rows ")
        + pl.col("row_list")
        + pl.lit(" disagree on ")
        + pl.col("label")
        + pl.col("values_text")
    )
    return (
        described.group_by(key, maintain_order=True)
        .agg(
            detail.str.join("; ").alias("detail"),
            pl.col("rows").list.min().min().alias("first_row"),
        )
        .select(
            pl.col(key),
            (pl.lit(f"{key_label} ") + pl.col(key) + pl.lit(": ") + pl.col("detail")).alias("message"),
            pl.col("first_row").cast(pl.Int64),
        )
    )


# Past this many, the shared-identifier warnings are summed up in one line rather than listed.
SHARED_IDENTIFIER_WARNINGS = 20


def shared_identifier_warnings(contacts: pl.DataFrame, specs: Specs) -> list[str]:
    """Warnings for emails and phones that several Contact IDs carry.

    Several contacts may carry one email or phone (a family line, a shared inbox), and Genesys stores it
    on each. But an identifier is claimed by one contact at a time: the first one written holds it and
    the others carry it unclaimed, so identifier lookups, email/phone matching and routing by it find
    only that one. Not a problem of the file, so not a row outcome; the user hears about it before
    anything is written.
    """
    return shared_value_warnings(identifier_values(contacts, specs))


IDENTIFIER_SCHEMA = {CONTACT_KEY: pl.String, "type": pl.String, "value": pl.String}


def identifier_values(contacts: pl.DataFrame, specs: Specs) -> pl.DataFrame:
    """Every contact's emails and phones as (Contact ID, type, value), compared case- and extension-blind."""
    columns = [
        c for c in contacts.columns if (spec := specs.get(c)) is not None and spec.kind == "contact"
        and spec.type in (FieldType.EMAIL, FieldType.PHONE)
    ]  # fmt: skip
    if not columns or contacts.height == 0:
        return pl.DataFrame(schema=IDENTIFIER_SCHEMA)
    return pl.concat(
        [
            contacts.select(
                pl.col(CONTACT_KEY),
                pl.lit(specs.get(c).type.value).alias("type"),  # type: ignore[union-attr]
                pl.col(c).str.replace(r"(?s);ext=.*", "").str.to_lowercase().alias("value"),
            )
            for c in columns
        ]
    ).drop_nulls("value")


def shared_value_warnings(values: pl.DataFrame) -> list[str]:
    """The warnings of :func:`shared_identifier_warnings` from its :func:`identifier_values`.

    ``values`` may leave out any value that occurs once: the chunked stage passes only the values whose
    hash repeats across the whole file.
    """
    # Nearly every value is on one row: keeping only the values that repeat first spares the deduplication
    # and the grouping (sorting every value's keys) all the others, most of this function's time. (A
    # value repeated only across types is kept too, and the grouping by type sorts it out.)
    repeated = values.filter(pl.col("value").is_duplicated())
    shared = (
        repeated.unique()
        .group_by("type", "value")
        .agg(pl.col(CONTACT_KEY).sort())
        .filter(pl.col(CONTACT_KEY).list.len() > 1)
        .sort("value")
    )
    warnings = [
        f"{'email' if kind == 'email' else 'phone'} {mask(value, kind)!r} is on {len(keys)} contacts "
        f"({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}); all are imported, but Genesys lets "
        "one contact claim it as an identifier (the first written), so lookups and matching by it find "
        "only that one"
        for kind, value, keys in shared.head(SHARED_IDENTIFIER_WARNINGS).iter_rows()
    ]
    if shared.height > SHARED_IDENTIFIER_WARNINGS:
        warnings.append(
            f"... and {shared.height - SHARED_IDENTIFIER_WARNINGS} more emails/phones shared by contacts"
        )
    return warnings
