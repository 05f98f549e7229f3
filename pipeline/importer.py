"""The import job: validated file -> organizations -> contacts -> reconciliation.

Organizations go first so every contact can carry ``externalOrganization.id``; a contact whose
organization did not make it is skipped with that organization's error.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.api import ValidationResult, validate_table
from pipeline.errors import ConfigError, InputError
from pipeline.fields import Specs, load_specs
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import ClientSettings
from pipeline.outcome_frame import merge_outcomes, row_succeeded
from pipeline.outcomes import SOURCE_ROW, Status
from pipeline.plan import (
    Operation,
    PlanOptions,
    contact_operations,
    link_organization,
    organization_operations,
)
from pipeline.push import Outcome, PushStats, default_concurrency, push, skipped
from pipeline.read import RawTable, read_table
from pipeline.reconcile import build_report, summarize, write_report

DEFAULT_EXTERNAL_SOURCE = "contacts-pipeline"


@dataclass(frozen=True)
class ImportOptions:
    external_source: str = DEFAULT_EXTERNAL_SOURCE
    create_source: bool = False
    division_id: str | None = None
    contact_schema: str | None = None
    organization_schema: str | None = None
    match: tuple[str, ...] = ()
    concurrency: int | None = None
    dry_run: bool = False


@dataclass
class Progress:
    """Counters the CLI renders while the run goes; updated after every batch."""

    organizations_total: int = 0
    organizations_done: int = 0
    contacts_total: int = 0
    contacts_done: int = 0
    errors: int = 0
    listeners: list[Callable[[Progress], None]] = field(default_factory=list)

    def record(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.kind == "organization":
                self.organizations_done += 1
            else:
                self.contacts_done += 1
            if outcome.status in (Status.FAILED, Status.SKIPPED):
                self.errors += 1
        for listener in self.listeners:
            listener(self)


@dataclass(frozen=True)
class PushReport:
    outcomes: pl.DataFrame
    organizations: dict[str, int]
    contacts: dict[str, int]
    duration_s: float
    batches: int
    entity_retries: int


def _counts(outcomes: list[Outcome], kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.kind == kind:
            counts[str(outcome.status)] = counts.get(str(outcome.status), 0) + 1
    return counts


async def resolve_external_source(client: Any, name: str, *, create: bool) -> str:
    """The id of the external source named exactly ``name``, created on request."""
    source = await client.find_external_source(name)
    if source is not None:
        return str(source["id"])
    if not create:
        raise ConfigError(
            f"external source {name!r} does not exist; pass --create-source to create it, "
            "or --external-source to name an existing one"
        )
    created = await client.create_external_source(name)
    return str(created["id"])


def _custom_fields(columns: list[str], kind: str) -> list[str]:
    prefix = f"{kind}.customFields."
    return [c.removeprefix(prefix) for c in columns if c.startswith(prefix)]


async def resolve_schema(client: Any, kind: str, wanted: str | None, fields: list[str]) -> dict | None:
    """The ``{id, version}`` reference for custom fields, after checking the schema has every field."""
    if not fields:
        return None
    schemas = await client.list_schemas(f"{kind}s")
    names = ", ".join(sorted(str(s.get("name")) for s in schemas)) or "none"
    flag = "--contact-schema" if kind == "contact" else "--organization-schema"
    if wanted is None:
        raise ConfigError(
            f"the file has {kind} custom fields ({', '.join(fields)}); name their schema with {flag} "
            f"(available: {names})"
        )
    match = [s for s in schemas if wanted in (s.get("id"), s.get("name"))]
    if not match:
        raise ConfigError(f"{kind} schema {wanted!r} not found (available: {names})")
    schema = match[0]
    properties = (schema.get("jsonSchema") or {}).get("properties") or {}
    missing = [f for f in fields if f not in properties]
    if missing:
        raise ConfigError(
            f"{kind} schema {schema.get('name')!r} has no field(s) {', '.join(missing)}; "
            f"it has {', '.join(sorted(properties)) or 'none'}"
        )
    return {"id": schema["id"], "version": schema.get("version")}


def _link_contacts(
    contacts: list[Operation], org_outcomes: list[Outcome], *, dry_run: bool
) -> tuple[list[Operation], list[Outcome]]:
    """Contacts with their organization's Genesys id; those whose organization failed are skipped."""
    by_key = {o.key: o for o in org_outcomes}
    ready: list[Operation] = []
    skips: list[Outcome] = []
    for op in contacts:
        if op.organization_key is None:
            ready.append(op)
            continue
        org = by_key.get(op.organization_key)
        if org is None or org.status in (Status.FAILED, Status.SKIPPED):
            code = org.error_code if org and org.error_code else "organization.failed"
            reason = org.error_message if org and org.error_message else "not written"
            skips.append(skipped(op, code, f"organization {op.organization_key!r} failed: {reason}"))
        elif org.genesys_id is None:
            # A dry run answers "would create" without an id to link to; the contact is still checked.
            ready.append(op)
        else:
            ready.append(link_organization(op, org.genesys_id))
    return ready, skips


async def push_grouped(
    client: Any,
    grouped: Any,
    decided: pl.DataFrame,
    options: ImportOptions,
    *,
    rate_limit: int,
    specs: Specs | None = None,
    progress: Progress | None = None,
) -> PushReport:
    """Push the grouped records (organizations, then contacts) and merge the outcomes per row."""
    specs = specs or load_specs()
    progress = progress or Progress()
    started = time.monotonic()
    source_id = await resolve_external_source(
        client, options.external_source, create=options.create_source and not options.dry_run
    )
    plan = PlanOptions(
        external_source_id=source_id,
        division_id=options.division_id,
        contact_schema=await resolve_schema(
            client, "contact", options.contact_schema, _custom_fields(grouped.contacts.columns, "contact")
        ),
        organization_schema=await resolve_schema(
            client,
            "organization",
            options.organization_schema,
            _custom_fields(grouped.organizations.columns, "organization"),
        ),
        match=options.match,
    )
    organizations = list(organization_operations(grouped.organizations, specs, plan))
    contacts = list(contact_operations(grouped.contacts, specs, plan))
    progress.organizations_total = len(organizations)
    progress.contacts_total = len(contacts)
    concurrency = options.concurrency or default_concurrency(rate_limit)
    stats = PushStats()

    org_outcomes = await push(
        client,
        organizations,
        endpoint="organizations",
        concurrency=concurrency,
        dry_run=options.dry_run,
        on_batch=progress.record,
        stats=stats,
    )
    ready, skips = _link_contacts(contacts, org_outcomes, dry_run=options.dry_run)
    progress.record(skips)
    contact_outcomes = await push(
        client,
        ready,
        endpoint="contacts",
        concurrency=concurrency,
        dry_run=options.dry_run,
        on_batch=progress.record,
        stats=stats,
    )
    everything = org_outcomes + skips + contact_outcomes
    return PushReport(
        outcomes=merge_outcomes(decided, everything),
        organizations=_counts(everything, "organization"),
        contacts=_counts(everything, "contact"),
        duration_s=time.monotonic() - started,
        batches=stats.batches,
        entity_retries=stats.entity_retries,
    )


@dataclass(frozen=True)
class ImportSummary:
    """What SUMMARY.json holds and the CLI prints."""

    input_path: str
    report_path: str | None
    dry_run: bool
    rows: int
    rows_succeeded: int
    rows_not_succeeded: int
    organization_rows: dict[str, int]
    contact_rows: dict[str, int]
    organizations: dict[str, int]
    contacts: dict[str, int]
    duration_s: float
    requests_sent: int
    throttled: int
    retries: int
    entity_retries: int

    def to_json(self) -> dict[str, Any]:
        return {
            "input": self.input_path,
            "report": self.report_path,
            "dry_run": self.dry_run,
            "rows": {
                "total": self.rows,
                "succeeded": self.rows_succeeded,
                "not_succeeded": self.rows_not_succeeded,
                "organization_status": self.organization_rows,
                "contact_status": self.contact_rows,
            },
            "records": {"organizations": self.organizations, "contacts": self.contacts},
            "duration_s": round(self.duration_s, 3),
            "requests_sent": self.requests_sent,
            "throttled_429": self.throttled,
            "request_retries": self.retries,
            "entity_retries": self.entity_retries,
        }


@dataclass(frozen=True)
class ImportResult:
    report: pl.DataFrame
    summary: ImportSummary
    warnings: list[str]

    @property
    def all_succeeded(self) -> bool:
        return self.summary.rows_not_succeeded == 0


def _summary_path(report_path: Path) -> Path:
    return report_path.with_name("SUMMARY.json")


def _rows_to_rerun(raw: RawTable) -> tuple[RawTable, pl.DataFrame]:
    """For --only-failed: the rows of a previous reconciliation file that did not succeed, and the
    previous outcomes of those that did (they are carried into the new report unchanged)."""
    previous = raw.previous
    if previous is None:
        raise InputError(
            f"{raw.path}: --only-failed needs a reconciliation file written by a previous import "
            "(it has no organization_status/contact_status columns)"
        )
    done = previous.filter(row_succeeded())
    rerun = raw.frame.join(done.select(SOURCE_ROW), on=SOURCE_ROW, how="anti", maintain_order="left")
    return replace(raw, frame=rerun), done


async def _push_with_client(
    settings: ClientSettings,
    validation: ValidationResult,
    options: ImportOptions,
    progress: Progress,
) -> tuple[PushReport, dict[str, int]]:
    async with GenesysClient(settings) as client:
        pushed = await push_grouped(
            client,
            validation.grouped,
            validation.grouped.outcomes,
            options,
            rate_limit=settings.rate_limit_per_minute,
            progress=progress,
        )
        stats = client.stats
        return pushed, {
            "requests_sent": stats.requests_sent,
            "throttled": stats.throttled,
            "retries": stats.retries,
        }


def import_file(
    path: str | Path,
    settings: ClientSettings,
    options: ImportOptions,
    *,
    mapping: str | Path | None = None,
    default_region: str = "US",
    account_conflicts: str = "error",
    report_path: str | Path | None = None,
    only_failed: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate a file, push what is valid, and write the reconciliation file and SUMMARY.json."""
    started = time.monotonic()
    raw = read_table(path)
    carried = None
    if only_failed:
        raw_subset, carried = _rows_to_rerun(raw)
    else:
        raw_subset = raw
    validation = validate_table(
        raw_subset, mapping=mapping, default_region=default_region, account_conflicts=account_conflicts
    )
    pushed, client_stats = asyncio.run(
        _push_with_client(settings, validation, options, progress or Progress())
    )
    outcomes = pushed.outcomes
    if carried is not None and carried.height:
        outcomes = pl.concat([outcomes, carried.select(outcomes.columns)]).sort(SOURCE_ROW)
    report = build_report(raw.frame, outcomes)
    succeeded = int(report.select(row_succeeded().sum()).item()) if report.height else 0
    counts = summarize(report)
    written = Path(report_path) if report_path is not None else None
    summary = ImportSummary(
        input_path=str(path),
        report_path=str(written) if written else None,
        dry_run=options.dry_run,
        rows=report.height,
        rows_succeeded=succeeded,
        rows_not_succeeded=report.height - succeeded,
        organization_rows=counts.organization,
        contact_rows=counts.contact,
        organizations=pushed.organizations,
        contacts=pushed.contacts,
        duration_s=time.monotonic() - started,
        entity_retries=pushed.entity_retries,
        **client_stats,
    )
    if written is not None:
        write_report(report, written)
        _summary_path(written).write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")
    return ImportResult(report, summary, validation.warnings)
