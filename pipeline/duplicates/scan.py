"""The ``duplicates`` job: a cursor scan of every contact -> candidate groups -> the duplicates file.

Only the cursor scan endpoint is read (pages of 200, following ``cursors.after``); each page is reduced to
:class:`~pipeline.duplicates.candidates.Candidate` values before the next one is fetched, so memory grows
with the contacts that have an email or phone, by a few short strings each, never with whole records.
Nothing is written to Genesys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline import asyncrun
from pipeline.csvsafe import write_csv
from pipeline.duplicates.candidates import Candidate, candidate_from
from pipeline.duplicates.grouping import MERGE_LIMIT, Group, find_groups
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.scanning import Scanner
from pipeline.genesys.settings import ClientSettings

PAGE_SIZE = 200
# The duplicates file, and what `merge` reads back from it (group, keep, survivor, genesys_contact_id).
COLUMNS = (
    "group", "keep", "survivor", "score", "factors", "genesys_contact_id", "first_name", "last_name",
    "emails", "phones", "organization_id", "external_ids", "type", "modify_date", "note",
)  # fmt: skip
LIST_SEPARATOR = "; "


@dataclass(frozen=True)
class DuplicatesResult:
    groups: list[Group]
    contacts_scanned: int
    source_id: str | None  # the import's external source, when it exists
    warnings: tuple[str, ...]


async def scan_duplicates(
    client: GenesysClient, *, external_source: str, default_region: str, division_id: str | None = None
) -> DuplicatesResult:
    """Scan every contact and group the likely duplicates (see :mod:`pipeline.duplicates.grouping`)."""
    warnings = []
    source = await client.find_external_source(external_source)
    source_id = str(source["id"]) if source else None
    if source_id is None:
        warnings.append(
            f"no external source named {external_source!r}: survivors are chosen by completeness and "
            "modify date only"
        )
    candidates: list[Candidate] = []
    scanned = 0
    scanner = Scanner(client, division_id=division_id)
    async for page in scanner.pages("contacts", limit=PAGE_SIZE):
        scanned += len(page.entities)
        for record in page.entities:
            if (candidate := candidate_from(record, source_id, default_region)) is not None:
                candidates.append(candidate)
    warnings.extend(scanner.warnings)
    groups = find_groups(candidates)
    for group in groups:
        if group.capped:
            warnings.append(
                f"group {group.number}: {group.component_size} contacts share emails or phones; Genesys "
                f"merges at most {MERGE_LIMIT} at once, so {group.component_size - MERGE_LIMIT} are listed "
                "with keep=no (run duplicates again after merging)"
            )
    return DuplicatesResult(groups, scanned, source_id, tuple(warnings))


def run_duplicates(
    settings: ClientSettings, *, external_source: str, default_region: str, division_id: str | None = None
) -> DuplicatesResult:
    async def run() -> DuplicatesResult:
        async with GenesysClient(settings) as client:
            return await scan_duplicates(
                client,
                external_source=external_source,
                default_region=default_region,
                division_id=division_id,
            )

    return asyncrun.run(run())


def duplicate_rows(result: DuplicatesResult) -> pl.DataFrame:
    """One row per grouped record, the survivor first in each group; every column is text."""
    rows = []
    for group in result.groups:
        for member in group.members:
            c = member.candidate
            rows.append(
                (
                    str(group.number),
                    "yes" if member.keep else "no",
                    "yes" if member.survivor else "no",
                    str(member.score),
                    LIST_SEPARATOR.join(member.factors),
                    c.id,
                    c.first_name,
                    c.last_name,
                    LIST_SEPARATOR.join(c.emails),
                    LIST_SEPARATOR.join(c.phones),
                    c.organization_id,
                    LIST_SEPARATOR.join(_external_id(s, v, result.source_id) for s, v in c.external_ids),
                    c.type,
                    c.modify_date,
                    member.note,
                )
            )
    return pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String), orient="row")


def write_duplicates(result: DuplicatesResult, out: Path) -> pl.DataFrame:
    """Write the duplicates file (formula-safe, atomically) and return its rows."""
    frame = duplicate_rows(result)
    write_csv(frame, out)
    return frame


def _external_id(source: str, value: str, import_source: str | None) -> str:
    # The import's own ids as they are (they are the spreadsheet's Contact IDs); others name their source.
    return value if source == import_source else f"{value} (source {source})"
