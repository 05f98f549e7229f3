"""Per-record push outcomes -> per-row outcome columns, merged with what validation already decided.

Pure: outcomes and frames in, one frame out (the ``outcomes`` frame of docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from pipeline.fields import GENESYS_CONTACT_ID, GENESYS_ORGANIZATION_ID
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW, Outcome, Stage, Status

_PART_SCHEMA = {
    SOURCE_ROW: pl.Int64,
    "status": pl.String,
    "genesys_id": pl.String,
    "code": pl.String,
    "message": pl.String,
}


def _rows(outcomes: Iterable[Outcome]) -> pl.DataFrame:
    """One row per (outcome, source row): each record stands for every input row it came from."""
    records = [
        (row, str(o.status), o.genesys_id, o.error_code, o.error_message)
        for o in outcomes
        for row in o.source_rows
    ]
    return pl.DataFrame(records, schema=_PART_SCHEMA, orient="row")


def empty_outcomes() -> pl.DataFrame:
    return pl.DataFrame(schema={c: (pl.Int64 if c == SOURCE_ROW else pl.String) for c in OUTCOME_COLUMNS})


def merge_outcomes(decided: pl.DataFrame, pushed: Iterable[Outcome]) -> pl.DataFrame:
    """Combine validation/grouping outcomes with push outcomes; validation's word wins where both speak.

    A row's ``error_stage`` and ``error_code`` describe its first problem in pipeline order (validation,
    then its organization, then its contact); ``error_message`` lists all of them.
    """
    pushed = list(pushed)
    org = _rows(o for o in pushed if o.kind == "organization").rename(
        {"status": "o_status", "genesys_id": "o_id", "code": "o_code", "message": "o_message"}
    )
    contact = _rows(o for o in pushed if o.kind == "contact").rename(
        {"status": "c_status", "genesys_id": "c_id", "code": "c_code", "message": "c_message"}
    )
    decided = decided.select(OUTCOME_COLUMNS) if decided.width else empty_outcomes()
    merged = (
        decided.join(org, on=SOURCE_ROW, how="full", coalesce=True)
        .join(contact, on=SOURCE_ROW, how="full", coalesce=True)
        .with_columns(
            organization_status=pl.coalesce("organization_status", "o_status"),
            genesys_organization_id=pl.coalesce(GENESYS_ORGANIZATION_ID, "o_id"),
            contact_status=pl.coalesce("contact_status", "c_status"),
            genesys_contact_id=pl.coalesce(GENESYS_CONTACT_ID, "c_id"),
        )
    )
    org_failed = pl.col("o_code").is_not_null()
    contact_failed = pl.col("c_code").is_not_null()
    merged = merged.with_columns(
        error_stage=pl.coalesce(
            "error_stage",
            pl.when(org_failed)
            .then(pl.lit(str(Stage.ORGANIZATION)))
            .when(contact_failed)
            .then(pl.lit(str(Stage.CONTACT))),
        ),
        error_code=pl.coalesce("error_code", pl.when(org_failed).then("o_code").otherwise("c_code")),
        # Every problem of the row, in pipeline order; a skipped contact's message only repeats its
        # organization's error, so it is left out when that error is already there.
        error_message=pl.concat_str(
            [
                "error_message",
                "o_message",
                pl.when(~org_failed | (pl.col("c_status") != str(Status.SKIPPED))).then("c_message"),
            ],
            separator="; ",
            ignore_nulls=True,
        ).replace("", None),
    )
    return merged.select(OUTCOME_COLUMNS).sort(SOURCE_ROW)


def row_succeeded() -> pl.Expr:
    """True for rows whose every present part was created, updated or unchanged."""
    ok = [str(Status.CREATED), str(Status.UPDATED), str(Status.UNCHANGED)]
    org_ok = pl.col("organization_status").is_null() | pl.col("organization_status").is_in(ok)
    contact_ok = pl.col("contact_status").is_null() | pl.col("contact_status").is_in(ok)
    has_part = pl.col("organization_status").is_not_null() | pl.col("contact_status").is_not_null()
    return org_ok & contact_ok & has_part
