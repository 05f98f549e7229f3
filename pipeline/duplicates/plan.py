"""The edited duplicates file -> the merges a person asked for, checked before any API request.

Read with the project's reader (CSV in any encoding or delimiter it accepts, or an .xlsx saved from Excel);
cells are unescaped as :mod:`pipeline.csvsafe` wrote them. Only four columns matter: ``group``, ``keep``,
``survivor`` and ``genesys_contact_id``; the others are there for the person and are carried into the
reconciliation file unchanged.

A group is merged when two or more of its rows say ``keep=yes`` and exactly one of those says
``survivor=yes``; a group with fewer than two kept rows is skipped, with the reason. Anything ambiguous is
an input error (exit 2, file, row, column and why) rather than a guess: a keep or survivor cell that is not
yes/no, a missing id, an id listed twice, a kept group without one kept survivor or with more than 25 kept
rows. ``keep`` and ``survivor`` take yes/no, y/n, true/false, 1/0 in any case; blank means no.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.csvsafe import unescape
from pipeline.duplicates.grouping import MERGE_LIMIT
from pipeline.errors import InputError
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare.normalize import FALSE_WORDS, TRUE_WORDS
from pipeline.prepare.read import read_table

REQUIRED = ("group", "keep", "survivor", "genesys_contact_id")
# What `merge` adds; dropped when its own reconciliation file is read again (to retry what failed).
RESULT_COLUMNS = ("merge_status", "merged_contact_id", "error_code", "error_message")


@dataclass(frozen=True)
class PlannedGroup:
    """One group of the file: the kept ids (the survivor first), or why it is skipped."""

    group: str
    contact_ids: tuple[str, ...]
    skip_reason: str | None = None

    @property
    def survivor_id(self) -> str:
        return self.contact_ids[0]


@dataclass(frozen=True)
class MergePlan:
    rows: pl.DataFrame  # the file's columns (results of an earlier merge dropped) and source_row
    groups: list[PlannedGroup]
    kept: frozenset[str]  # contact ids of rows with keep=yes
    row_keys: tuple[tuple[str, str], ...]  # (group, contact id) of each row, in file order


def read_plan(path: Path) -> MergePlan:
    """Read and check the edited duplicates file; :class:`InputError` on anything ambiguous."""
    table = read_table(path)
    frame = table.frame.drop([c for c in RESULT_COLUMNS if c in table.frame.columns])
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: no column {', '.join(repr(c) for c in missing)}; merge reads the file written by "
            "`contacts-pipeline duplicates` (columns group, keep, survivor, genesys_contact_id)"
        )
    by_group: dict[str, list[tuple[int, str, bool, bool]]] = {}
    seen: dict[str, int] = {}
    row_keys = []
    for row in frame.select(SOURCE_ROW, *REQUIRED).iter_rows(named=True):
        line = int(row[SOURCE_ROW])
        group, contact_id = _cell(row["group"]), _cell(row["genesys_contact_id"])
        keep = _yes_no(row["keep"], path, line, "keep")
        survivor = _yes_no(row["survivor"], path, line, "survivor")
        for column, value in (("group", group), ("genesys_contact_id", contact_id)):
            if not value:
                raise InputError(f"{path}: row {line}, column {column}: empty; every row needs one")
        if contact_id in seen:
            raise InputError(
                f"{path}: row {line}, column genesys_contact_id: {contact_id} is also on row "
                f"{seen[contact_id]}; a contact can be in one group only"
            )
        seen[contact_id] = line
        row_keys.append((group, contact_id))
        by_group.setdefault(group, []).append((line, contact_id, keep, survivor))
    groups = [_plan_group(path, group, rows) for group, rows in by_group.items()]
    kept = frozenset(cid for rows in by_group.values() for _, cid, keep, _ in rows if keep)
    return MergePlan(frame, groups, kept, tuple(row_keys))


def _plan_group(path: Path, group: str, rows: list[tuple[int, str, bool, bool]]) -> PlannedGroup:
    kept = [(line, cid, survivor) for line, cid, keep, survivor in rows if keep]
    if len(kept) < 2:
        return PlannedGroup(group, tuple(cid for _, cid, _ in kept), "fewer than 2 rows with keep=yes")
    if len(kept) > MERGE_LIMIT:
        raise InputError(
            f"{path}: row {kept[MERGE_LIMIT][0]}, column keep: group {group} keeps {len(kept)} contacts; "
            f"Genesys merges at most {MERGE_LIMIT} at once: set keep=no on the others"
        )
    survivors = [(line, cid) for line, cid, survivor in kept if survivor]
    if len(survivors) != 1:
        line = survivors[1][0] if survivors else kept[0][0]
        raise InputError(
            f"{path}: row {line}, column survivor: group {group} has {len(survivors)} kept rows with "
            "survivor=yes; mark exactly one"
        )
    survivor_id = survivors[0][1]
    return PlannedGroup(group, (survivor_id, *(cid for _, cid, _ in kept if cid != survivor_id)))


def _cell(value: object) -> str:
    return unescape(str(value)).strip() if value is not None else ""


def _yes_no(value: object, path: Path, line: int, column: str) -> bool:
    text = _cell(value).lower()
    if text in TRUE_WORDS:
        return True
    if not text or text in FALSE_WORDS:
        return False
    raise InputError(f"{path}: row {line}, column {column}: {text!r} is not yes or no")
