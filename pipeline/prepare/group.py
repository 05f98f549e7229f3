"""One organization per Account ID and one contact per Contact ID, with consistency checks.

Two rows *disagree* on a field when both carry a value and the values differ. A blank cell next to a value
is not a disagreement: with Genesys's default field rules (``PreferProvided``) an empty cell never clears a
stored value, so a blank is no instruction at all and cannot contradict one. The record built from a group
of rows therefore takes, per field, the first non-blank value in file order.

A row's contact part is settled in this order: invalid (its own fields failed validation), skipped (its
account part is invalid or in conflict, so there is nothing to link it to), conflict (its Contact ID
appears on other rows with different data); the rest are collapsed per Contact ID and still to be pushed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import polars as pl

from pipeline.fields import (
    CONTACT_KEY,
    GENESYS_CONTACT_ID,
    GENESYS_ORGANIZATION_ID,
    ORGANIZATION_KEY,
    Specs,
)
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW, Reason, Stage, Status
from pipeline.prepare.conflicts import (
    SHARED_IDENTIFIER_WARNINGS,
    disagreements,
    shared_identifier_warnings,
)
from pipeline.prepare.validate import part_presence, with_required_columns

# Re-exported: callers and tests know them from here.
__all__ = ["SHARED_IDENTIFIER_WARNINGS", "shared_identifier_warnings"]

AccountConflicts = Literal["error", "first"]
ACCOUNT_CONFLICT_MODES: tuple[AccountConflicts, ...] = get_args(AccountConflicts)
DEFAULT_ACCOUNT_CONFLICTS: AccountConflicts = "error"
SOURCE_ROWS = "source_rows"


@dataclass(frozen=True)
class Grouped:
    """Records ready to push, and the rows already settled before any API call."""

    organizations: pl.DataFrame
    contacts: pl.DataFrame
    outcomes: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


def _failure_columns(failures: pl.DataFrame, kind: str, prefix: str) -> pl.DataFrame:
    """Per row: the first failure code of ``kind`` and all its messages joined."""
    return (
        failures.filter(pl.col("kind") == kind)
        .group_by(SOURCE_ROW, maintain_order=True)
        .agg(
            pl.col("code").first().alias(f"{prefix}_code"),
            pl.col("message").str.join("; ").alias(f"{prefix}_message"),
        )
    )


def _first_values(rows: pl.DataFrame, key: str, fields: list[str]) -> pl.DataFrame:
    """One record per key: the first non-blank value of each field, plus the rows it stands for."""
    return (
        rows.sort(SOURCE_ROW)
        .group_by(key, maintain_order=True)
        .agg(
            *(pl.col(f).drop_nulls().first().alias(f) for f in fields),
            pl.col(SOURCE_ROW).alias(SOURCE_ROWS),
        )
        .select(key, *fields, SOURCE_ROWS)
    )


def group(
    frame: pl.DataFrame,
    failures: pl.DataFrame,
    specs: Specs,
    *,
    account_conflicts: AccountConflicts = DEFAULT_ACCOUNT_CONFLICTS,
    headers_for: Mapping[str, str] | None = None,
    constants: Collection[str] = (),
) -> Grouped:
    """Split a validated, normalized frame into organizations, contacts and already-settled outcomes."""
    grouped, account_warnings = settle(
        frame,
        failures,
        specs,
        account_conflicts=account_conflicts,
        headers_for=headers_for,
        constants=constants,
    )
    warnings = account_warnings.get_column(WARNING).to_list()
    warnings.extend(shared_identifier_warnings(grouped.contacts, specs))
    return Grouped(grouped.organizations, grouped.contacts, grouped.outcomes, warnings)


# The column of :func:`settle`'s account-conflict warnings, beside the Account ID each one is about.
WARNING = "warning"


def settle(
    frame: pl.DataFrame,
    failures: pl.DataFrame,
    specs: Specs,
    *,
    account_conflicts: AccountConflicts = DEFAULT_ACCOUNT_CONFLICTS,
    headers_for: Mapping[str, str] | None = None,
    constants: Collection[str] = (),
) -> tuple[Grouped, pl.DataFrame]:
    """:func:`group` without the warnings that look across all contacts (shared emails and phones).

    Returns the grouping (no warnings) and the ``account_conflicts='first'`` warnings as a frame of
    Account ID and ``warning``, sorted by Account ID: the chunked stage settles the rows part by part and
    merges these frames into the order one call on the whole file gives.
    """
    if account_conflicts not in ACCOUNT_CONFLICT_MODES:
        raise ValueError(f"account_conflicts must be 'error' or 'first', not {account_conflicts!r}")
    headers_for = headers_for or {}
    frame = with_required_columns(frame, specs)
    for key in (CONTACT_KEY, ORGANIZATION_KEY):
        if key not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(key))
    org_fields = [c for c in frame.columns if c.startswith("organization.") and c != ORGANIZATION_KEY]
    contact_fields = [c for c in frame.columns if c.startswith("contact.") and c != CONTACT_KEY]
    rows = _rows_with_failures(frame, failures, constants)
    rows, organizations, warnings = _settle_organizations(
        rows, org_fields, specs, headers_for, account_conflicts
    )
    rows, contacts = _settle_contacts(rows, contact_fields, specs, headers_for)
    return Grouped(organizations, contacts, _outcomes(rows)), warnings


def _rows_with_failures(
    frame: pl.DataFrame, failures: pl.DataFrame, constants: Collection[str]
) -> pl.DataFrame:
    """The frame with which parts each row has, its failures per kind, and which parts are invalid."""
    present = part_presence(frame, constants)
    return (
        frame.with_columns(has_org=present["organization"], has_contact=present["contact"])
        .join(_failure_columns(failures, "row", "row"), on=SOURCE_ROW, how="left")
        .join(_failure_columns(failures, "organization", "org"), on=SOURCE_ROW, how="left")
        .join(_failure_columns(failures, "contact", "contact"), on=SOURCE_ROW, how="left")
        .with_columns(
            org_invalid=pl.col("has_org") & pl.col("org_code").is_not_null(),
            contact_invalid=pl.col("has_contact") & pl.col("contact_code").is_not_null(),
        )
    )


def _settle_organizations(
    rows: pl.DataFrame,
    org_fields: list[str],
    specs: Specs,
    headers_for: Mapping[str, str],
    account_conflicts: AccountConflicts,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Consistency per Account ID among the valid account parts: rows marked ``org_conflict``, one
    organization per Account ID, and the warnings of ``account_conflicts='first'``."""
    valid_orgs = rows.filter(pl.col("has_org") & ~pl.col("org_invalid"))
    org_conflicts = disagreements(
        valid_orgs.select(SOURCE_ROW, ORGANIZATION_KEY, *org_fields),
        ORGANIZATION_KEY,
        org_fields,
        specs,
        headers_for,
    )
    warnings = pl.DataFrame(schema={ORGANIZATION_KEY: pl.String, WARNING: pl.String})
    if account_conflicts == "first":
        warnings = org_conflicts.select(
            ORGANIZATION_KEY,
            pl.format("{}; using the first values from row {}", "message", "first_row").alias(WARNING),
        )
        org_conflicts = org_conflicts.clear()
    rows = rows.join(
        org_conflicts.select(ORGANIZATION_KEY, pl.col("message").alias("org_conflict_message")),
        on=ORGANIZATION_KEY,
        how="left",
    ).with_columns(
        org_conflict=pl.col("has_org")
        & ~pl.col("org_invalid")
        & pl.col("org_conflict_message").is_not_null(),
    )
    organizations = _first_values(
        rows.filter(pl.col("has_org") & ~pl.col("org_invalid") & ~pl.col("org_conflict")),
        ORGANIZATION_KEY,
        org_fields,
    )
    return rows, organizations, warnings


def _settle_contacts(
    rows: pl.DataFrame, contact_fields: list[str], specs: Specs, headers_for: Mapping[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Contacts skipped when their account part cannot be pushed, then consistency per Contact ID: rows
    marked ``contact_skipped``/``contact_conflict``, and one contact per Contact ID."""
    rows = rows.with_columns(
        contact_skipped=pl.col("has_contact")
        & ~pl.col("contact_invalid")
        & (pl.col("org_invalid") | pl.col("org_conflict")),
        # A contact links to the Account ID on its row, whether the row defines that account or only
        # names it (then it is resolved at push time: another row, the journal, or Genesys).
        link=pl.col(ORGANIZATION_KEY),
    )
    eligible = rows.filter(pl.col("has_contact") & ~pl.col("contact_invalid") & ~pl.col("contact_skipped"))
    linked = eligible.select(SOURCE_ROW, CONTACT_KEY, *contact_fields, pl.col("link").alias(ORGANIZATION_KEY))
    contact_conflicts = disagreements(
        linked, CONTACT_KEY, [*contact_fields, ORGANIZATION_KEY], specs, headers_for
    )
    rows = rows.join(
        contact_conflicts.select(CONTACT_KEY, pl.col("message").alias("contact_conflict_message")),
        on=CONTACT_KEY,
        how="left",
    ).with_columns(
        contact_conflict=pl.col("has_contact")
        & ~pl.col("contact_invalid")
        & ~pl.col("contact_skipped")
        & pl.col("contact_conflict_message").is_not_null(),
    )
    contacts = _first_values(
        linked.join(contact_conflicts.select(CONTACT_KEY), on=CONTACT_KEY, how="anti"),
        CONTACT_KEY,
        [*contact_fields, ORGANIZATION_KEY],
    )
    return rows, contacts


def _problems(rows: pl.DataFrame) -> list[tuple[pl.Expr, Stage, pl.Expr, pl.Expr]]:
    """Every problem a row can have as (applies, stage, code, message), in pipeline order."""
    skipped_message = (
        pl.lit("contact not imported because its account (")
        + pl.col(ORGANIZATION_KEY).fill_null("no Account ID")
        + pl.when(pl.col("org_invalid")).then(pl.lit(") is invalid")).otherwise(pl.lit(") is in conflict"))
    )
    return [
        (pl.col("row_code").is_not_null(), Stage.VALIDATE, pl.col("row_code"), pl.col("row_message")),
        (pl.col("org_invalid"), Stage.VALIDATE, pl.col("org_code"), pl.col("org_message")),
        (pl.col("contact_invalid"), Stage.VALIDATE, pl.col("contact_code"), pl.col("contact_message")),
        (
            pl.col("org_conflict"),
            Stage.GROUP,
            pl.lit(Reason.ACCOUNT_CONFLICT.value),
            pl.col("org_conflict_message"),
        ),
        (
            pl.col("contact_skipped"),
            Stage.GROUP,
            pl.lit(Reason.ORGANIZATION_NOT_VALID.value),
            skipped_message,
        ),
        (
            pl.col("contact_conflict"),
            Stage.GROUP,
            pl.lit(Reason.CONTACT_CONFLICT.value),
            pl.col("contact_conflict_message"),
        ),
    ]


def _outcomes(rows: pl.DataFrame) -> pl.DataFrame:
    """The outcome columns for every row settled here; rows still to be pushed are left out.

    The error columns describe the row's first problem in pipeline order (validation before grouping),
    and the message lists all of them.
    """
    empty_row = pl.col("row_code").is_not_null()
    org_status = (
        pl.when(empty_row | pl.col("org_invalid"))
        .then(pl.lit(Status.INVALID.value))
        .when(pl.col("org_conflict"))
        .then(pl.lit(Status.CONFLICT.value))
    )
    contact_status = (
        pl.when(empty_row | pl.col("contact_invalid"))
        .then(pl.lit(Status.INVALID.value))
        .when(pl.col("contact_skipped"))
        .then(pl.lit(Status.SKIPPED.value))
        .when(pl.col("contact_conflict"))
        .then(pl.lit(Status.CONFLICT.value))
    )
    problems = _problems(rows)
    return (
        rows.select(
            pl.col(SOURCE_ROW).cast(pl.Int64),
            org_status.alias("organization_status"),
            pl.lit(None, dtype=pl.String).alias(GENESYS_ORGANIZATION_ID),
            contact_status.alias("contact_status"),
            pl.lit(None, dtype=pl.String).alias(GENESYS_CONTACT_ID),
            pl.coalesce(pl.when(on).then(pl.lit(stage.value)) for on, stage, _, _ in problems).alias(
                "error_stage"
            ),
            pl.coalesce(pl.when(on).then(code) for on, _, code, _ in problems).alias("error_code"),
            pl.concat_str(
                [pl.when(on).then(message) for on, _, _, message in problems],
                separator="; ",
                ignore_nulls=True,
            ).alias("error_message"),
        )
        .filter(pl.col("organization_status").is_not_null() | pl.col("contact_status").is_not_null())
        .with_columns(pl.col("error_message").replace("", None))
        .select(OUTCOME_COLUMNS)
    )
