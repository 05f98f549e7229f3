"""The ``<report stem>.deleted.csv`` file of ``import --delete-missing``: the records it deletes, in the
import layout, so importing the file (with the same external source and schemas) restores them.

One row per planned deletion, contacts first: a contact row carries its organization's Account ID (and
the organization's fields when that organization is deleted too), so a restored contact links again; an
organization row carries the organization's fields. :data:`~pipeline.outcomes.DELETE_COLUMNS` close each
row with what became of the deletion; ``import`` ignores them, and the Genesys id columns, when the file
comes back as input. Written atomically and formula-safe (:func:`pipeline.csvsafe.write_csv`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.csvsafe import unescape, unescape_expr, write_csv
from pipeline.exporting.layout import (
    COLUMNS_ALL,
    Layout,
    OrganizationValues,
    build_layout,
    contact_rows,
    organization_rows,
    organization_values,
)
from pipeline.fields import FieldType, Specs
from pipeline.importing.deletions import Deletion, DeletionPlan
from pipeline.outcomes import DELETE_COLUMNS

DELETE_KIND, DELETE_STATUS, ERROR_CODE, ERROR_MESSAGE = DELETE_COLUMNS


@dataclass(frozen=True)
class DeleteResult:
    """What became of one deletion: deleted, failed, skipped, would_delete (dry run)."""

    status: str
    error_code: str | None = None
    error_message: str | None = None


def _custom_fields(plan: DeletionPlan) -> dict[str, list[str]]:
    """The custom fields the deleted records hold, per kind: the file needs no columns beyond those."""
    names: dict[str, dict[str, None]] = {"contact": {}, "organization": {}}
    for deletion in (*plan.contacts, *plan.organizations, *(k for k, _ in plan.kept)):
        custom = deletion.record.get("customFields")
        if isinstance(custom, Mapping):
            names[deletion.kind].update(dict.fromkeys(str(k) for k in custom))
    return {kind: list(found) for kind, found in names.items()}


def _organization_map(plan: DeletionPlan, layout: Layout) -> dict[str, OrganizationValues]:
    """Account values by Genesys id: whole for organizations the plan names, the Account ID alone for
    the others of the source (they stay, so a restored contact only needs to name them)."""
    key_at = next(i for i, s in enumerate(layout.organization) if s.type == FieldType.KEY)
    width = len(layout.organization)
    values: dict[str, OrganizationValues] = {
        org_id: tuple(key if i == key_at else None for i in range(width))
        for org_id, key in plan.organization_keys.items()
    }
    for org in (*plan.organizations, *(k for k, _ in plan.kept)):
        values[org.genesys_id] = organization_values(org.record, layout, plan.source_id)
    return values


def _outcome_columns(
    deletions: list[Deletion], results: Mapping[tuple[str, str], DeleteResult]
) -> pl.DataFrame:
    found = [results.get((d.kind, d.key)) for d in deletions]
    return pl.DataFrame(
        {
            DELETE_KIND: [d.kind for d in deletions],
            DELETE_STATUS: [r.status if r else None for r in found],
            ERROR_CODE: [r.error_code if r else None for r in found],
            ERROR_MESSAGE: [r.error_message if r else None for r in found],
        },
        schema=dict.fromkeys(DELETE_COLUMNS, pl.String),
    )


def deleted_frame(
    plan: DeletionPlan, results: Mapping[tuple[str, str], DeleteResult], specs: Specs
) -> pl.DataFrame:
    """The rows of the file (pure): import layout, then the deletion's outcome (empty before it is known)."""
    layout, _ = build_layout(specs, "both", _custom_fields(plan), COLUMNS_ALL)
    contacts = list(plan.contacts)
    organizations = [*plan.organizations, *(k for k, _ in plan.kept)]
    contact_part = contact_rows(
        [d.record for d in contacts], _organization_map(plan, layout), layout, plan.source_id
    ).frame
    org_part = organization_rows(
        ((o.genesys_id, organization_values(o.record, layout, plan.source_id)) for o in organizations), layout
    ).frame
    return pl.concat(
        [
            pl.concat([contact_part, _outcome_columns(contacts, results)], how="horizontal"),
            pl.concat([org_part, _outcome_columns(organizations, results)], how="horizontal"),
        ]
    )


def _carried(path: Path) -> pl.DataFrame | None:
    """Rows an earlier session of a resumed run deleted, from the file it wrote (they are gone from the
    target now, so this run's scan no longer finds them, and the file is the only copy)."""
    if not path.exists():
        return None
    frame = pl.read_csv(path, infer_schema=False)
    frame = frame.rename({c: unescape(c) for c in frame.columns})
    frame = frame.with_columns(unescape_expr(c).alias(c) for c in frame.columns)
    if DELETE_STATUS not in frame.columns:
        return None
    return frame.filter(pl.col(DELETE_STATUS) == "deleted")


def write_deleted_file(
    path: Path,
    plan: DeletionPlan,
    results: Mapping[tuple[str, str], DeleteResult],
    specs: Specs,
    *,
    carry: bool = False,
) -> None:
    """Write (atomically) the planned deletions and their outcomes so far; with ``carry`` (a resumed run)
    keep the rows an earlier session deleted."""
    frame = deleted_frame(plan, results, specs)
    earlier = _carried(path) if carry else None
    if earlier is not None and earlier.height:
        columns = list(dict.fromkeys([*frame.columns[: -len(DELETE_COLUMNS)], *earlier.columns]))
        columns = [c for c in columns if c not in DELETE_COLUMNS] + list(DELETE_COLUMNS)
        frame = pl.concat([earlier, frame], how="diagonal").select(columns)
    write_csv(frame, path)
