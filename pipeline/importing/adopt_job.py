"""``adopt FILE``: prepare the file as import does, adopt its records, write the reconciliation file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline import asyncrun
from pipeline.csvsafe import unescape_expr
from pipeline.destination import resolve_external_source
from pipeline.errors import ConfigError
from pipeline.fields import GENESYS_CONTACT_ID, GENESYS_ORGANIZATION_ID, load_specs
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.adopt import SETTLED, Adopter, Adoption, AdoptOptions, adopt_all
from pipeline.importing.candidates import CandidateFinder
from pipeline.importing.plan import Operation, PlanOptions, contact_operations, organization_operations
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare.header import header_key
from pipeline.prepare.stage import Prepared, PrepareOptions, prepare_file
from pipeline.report.reconcile import check_report_path, write_report

ADOPT_COLUMNS = (
    SOURCE_ROW,
    "adopt_status",
    "organization_adopt_status",
    GENESYS_ORGANIZATION_ID,
    "contact_adopt_status",
    GENESYS_CONTACT_ID,
    "released",
    "adopt_message",
)
# A row's adopt_status is its worst part's, in this order (rows the prepare stage refused are "invalid").
_WORST_FIRST = ("failed", "ambiguous_match", "invalid", "no_match", "would_adopt", "adopted", "already_ours")


@dataclass(frozen=True)
class AdoptRequest:
    external_source: str
    division_id: str | None = None
    release_prefixes: tuple[str, ...] = ()
    apply: bool = False
    concurrency: int = 4


@dataclass(frozen=True)
class AdoptResult:
    report: pl.DataFrame
    counts: dict[str, int]  # rows per adopt_status

    @property
    def all_settled(self) -> bool:
        return all(status in SETTLED for status in self.counts)


def _genesys_ids(raw: pl.DataFrame, column: str) -> dict[int, str]:
    """Source row -> the Genesys id the row names (column ``genesys_contact_id`` or "Genesys Contact ID")."""
    wanted = header_key(column)
    found = [c for c in raw.columns if header_key(c).replace(" ", "_") == wanted]
    if not found:
        return {}
    rows = raw.select(SOURCE_ROW, unescape_expr(found[0]).str.strip_chars().alias("id")).drop_nulls()
    return {int(r): str(i) for r, i in rows.iter_rows() if i}


def _with_ids(ops: Iterable[Operation], ids: Mapping[int, str]) -> list[tuple[Operation, str | None]]:
    return [(op, next((ids[r] for r in op.source_rows if r in ids), None)) for op in ops]


def _rows(adoptions: list[Adoption], refused: pl.DataFrame) -> pl.DataFrame:
    parts: dict[int, dict[str, str | None]] = {}
    for row in refused.iter_rows(named=True):
        part = parts.setdefault(int(row[SOURCE_ROW]), {})
        for kind in ("organization", "contact"):
            if row[f"{kind}_status"] is not None:
                part[f"{kind}_adopt_status"] = "invalid"
        part["adopt_message"] = row["error_message"]
    for a in adoptions:
        for source_row in a.source_rows:
            part = parts.setdefault(source_row, {})
            part[f"{a.kind}_adopt_status"], part[f"genesys_{a.kind}_id"] = a.status, a.genesys_id
            if a.released:
                part["released"] = "; ".join(filter(None, [part.get("released"), *a.released]))
            if a.message:
                part["adopt_message"] = "; ".join(filter(None, [part.get("adopt_message"), a.message]))
    records = []
    for source_row, part in parts.items():
        statuses = {part.get("organization_adopt_status"), part.get("contact_adopt_status")}
        worst = next(s for s in _WORST_FIRST if s in statuses)
        records.append({SOURCE_ROW: source_row, "adopt_status": worst, **part})
    schema = {c: pl.Int64 if c == SOURCE_ROW else pl.String for c in ADOPT_COLUMNS}
    return pl.DataFrame(records, schema=schema)


async def _adopt(
    settings: ClientSettings, path: Path, request: AdoptRequest, prepare: PrepareOptions
) -> tuple[Prepared, list[Adoption]]:
    prepared = prepare_file(path, prepare)
    specs = load_specs()
    raw = prepared.raw.frame
    async with GenesysClient(settings) as client:
        source_id = await resolve_external_source(client, request.external_source, create=False)
        if source_id is None:  # pragma: no cover - only a dry run asked to create the source
            raise ConfigError(f"external source {request.external_source!r} does not exist")
        plan = PlanOptions(external_source_id=source_id, division_id=request.division_id)
        orgs = _with_ids(
            organization_operations(prepared.grouped.organizations, specs, plan),
            _genesys_ids(raw, GENESYS_ORGANIZATION_ID),
        )
        contacts = _with_ids(
            contact_operations(prepared.grouped.contacts, specs, plan), _genesys_ids(raw, GENESYS_CONTACT_ID)
        )
        finder = CandidateFinder(
            client, source_id, request.division_id, ("email", "phone"), "strict", request.concurrency
        )
        options = AdoptOptions(
            source_id, request.division_id, request.release_prefixes, request.apply, request.concurrency
        )
        adopter = Adopter(client, options, finder)
        return prepared, await adopt_all(adopter, orgs, contacts)


def adopt_file(
    path: str | Path,
    settings: ClientSettings,
    request: AdoptRequest,
    *,
    prepare: PrepareOptions | None = None,
    report_path: str | Path | None = None,
) -> AdoptResult:
    """Adopt every record of ``path`` (or, without ``request.apply``, say what would be adopted)."""
    if report_path is not None:
        check_report_path(report_path)
    prepared, adoptions = asyncrun.run(_adopt(settings, Path(path), request, prepare or PrepareOptions()))
    outcomes = _rows(adoptions, prepared.grouped.outcomes)
    raw = prepared.raw.frame
    # A genesys_* id column of the input (it named the record to adopt) gives way to the report's own.
    inputs = [c for c in raw.columns if c not in ADOPT_COLUMNS]
    report = (
        raw.drop([c for c in raw.columns if c in ADOPT_COLUMNS and c != SOURCE_ROW])
        .join(outcomes, on=SOURCE_ROW, how="left", maintain_order="left")
        .select(*(unescape_expr(c).alias(c) for c in inputs), *ADOPT_COLUMNS)
        .with_columns(pl.col("adopt_status").fill_null("invalid"))
    )
    if report_path is not None:
        write_report(report, report_path)
    counts = dict(report.get_column("adopt_status").value_counts(sort=True).iter_rows())
    return AdoptResult(report, {str(k): int(v) for k, v in counts.items()})
