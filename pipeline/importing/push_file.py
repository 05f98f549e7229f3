"""Pushing one validated file: organizations, then contacts, in chunks, settled against the journal.

Organizations go first so every contact can carry ``externalOrganization.id``; a contact whose
organization did not make it is skipped with that organization's error.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipeline.destination import (
    custom_fields,
    resolve_external_source,
    resolve_schema,
)
from pipeline.fields import Specs, load_specs
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.models import Kind as ApiKind
from pipeline.importing.before import BeforeImages
from pipeline.importing.candidates import CandidateFinder
from pipeline.importing.compare import field_changes
from pipeline.importing.journal_settle import GroupCommit, Settle
from pipeline.importing.linking import ExistingOrganizations, link_contacts, resend_if_organization_is_new
from pipeline.importing.live import LiveReader
from pipeline.importing.options import ImportOptions, Progress, PushReport
from pipeline.importing.plan import (
    Kind,
    Operation,
    PlanOptions,
    chunks,
    contact_operations,
    organization_operations,
)
from pipeline.importing.push import PushStats, default_concurrency, push
from pipeline.journal.ledger import RunLedger
from pipeline.journal.records import BatchTiming
from pipeline.outcomes import Outcome, Status
from pipeline.prepare.group import Grouped
from pipeline.report.merge import merge_outcomes
from pipeline.report.reconcile import record_counts

NEW_SOURCE_PLACEHOLDER = "(new external source)"
NEW_SOURCE_MESSAGE = (
    "dry run: the external source does not exist yet, so every record would be created; "
    "the API was not asked to check them"
)


def _report(
    decided: pl.DataFrame, outcomes: list[Outcome], started: float, stats: PushStats, warnings: list[str]
) -> PushReport:
    counts = record_counts(outcomes)
    return PushReport(
        outcomes=merge_outcomes(decided, outcomes),
        organizations=counts.get("organization", {}),
        contacts=counts.get("contact", {}),
        duration_s=time.monotonic() - started,
        batches=stats.batches,
        entity_retries=stats.entity_retries,
        match_lookups=stats.match_lookups,
        warnings=warnings,
    )


# Operations are planned and pushed this many at a time, so a file of a million contacts never holds a
# million request bodies in memory; large enough that the workers rarely wait at a chunk boundary.
PLAN_CHUNK = 5_000


async def plan_options(
    client: GenesysClient, grouped: Grouped, options: ImportOptions, source_id: str | None
) -> PlanOptions:
    """How operations are built: the external source and the custom-field schemas, resolved by the API."""
    return PlanOptions(
        external_source_id=source_id or NEW_SOURCE_PLACEHOLDER,
        division_id=options.division_id,
        contact_schema=await resolve_schema(
            client, "contact", options.contact_schema, custom_fields(grouped.contacts.columns, "contact")
        ),
        organization_schema=await resolve_schema(
            client,
            "organization",
            options.organization_schema,
            custom_fields(grouped.organizations.columns, "organization"),
        ),
        match=options.match,
        match_policy=options.match_policy,
        blanks=options.blanks,
    )


@dataclass
class _FilePush:
    """Sends a file's operations chunk by chunk, settling each chunk against the journal first."""

    client: GenesysClient
    options: ImportOptions
    concurrency: int
    progress: Progress
    settle: Settle
    stats: PushStats = field(default_factory=PushStats)
    # With --compare-live: reads the stored records, so those already equal to the operation are not sent.
    live: LiveReader | None = None
    specs: Specs | None = None
    # With --save-before: journals the stored records of what is about to be sent.
    before: BeforeImages | None = None
    _stored: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.commits = GroupCommit(self.settle)

    async def drop_live_equal(
        self, operations: list[Operation], kind: Kind
    ) -> tuple[list[Operation], list[Outcome]]:
        """Operations whose stored record already holds what they send become ``unchanged`` (recorded in
        the journal with their fingerprint, so the next import skips them without reading); the rest
        are still to send."""
        if self.live is None or self.specs is None or not operations:
            return operations, []
        stored = await self.live.read(kind, [op.key for op in operations], self.settle.known_ids(kind))
        self._stored = stored
        todo: list[Operation] = []
        equal: list[Outcome] = []
        for op in operations:
            record = stored.get(op.key)
            if record is not None and record.get("id") and not field_changes(op, record, self.specs):
                equal.append(
                    Outcome(
                        op.kind,
                        op.key,
                        Status.UNCHANGED,
                        op.source_rows,
                        genesys_id=str(record["id"]),
                        organization_key=op.organization_key,
                    )
                )
            else:
                todo.append(op)
        self.settle.record(equal, answered=False)
        self.progress.record(equal)
        return todo, equal

    async def save_before(self, operations: list[Operation], kind: Kind) -> None:
        if self.before is not None:
            # With --compare-live the records about to be sent were just read: no second read.
            stored = self._stored if self.live is not None else None
            await self.before.save(operations, kind, self.settle.known_ids(kind), stored)

    async def on_batch(self, outcomes: list[Outcome], timing: BatchTiming) -> None:
        # Journal first: a batch is done only once its outcomes are committed. Records whose request
        # failed as a whole were not answered; a resumed run sends them again.
        await self.commits.record([o for o in outcomes if o.answered], timing)
        self.progress.record(outcomes)

    def send(self, operations: list[Operation], endpoint: ApiKind) -> Awaitable[list[Outcome]]:
        return push(
            self.client,
            operations,
            endpoint=endpoint,
            concurrency=self.concurrency,
            dry_run=self.options.dry_run,
            on_batch=self.on_batch,
            stats=self.stats,
        )

    async def organizations(self, operations: Iterator[Operation]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for chunk in chunks(operations, PLAN_CHUNK):
            todo, settled = self.settle.split(chunk, "organization")
            self.progress.record(settled)
            todo, equal = await self.drop_live_equal(todo, "organization")
            await self.save_before(todo, "organization")
            outcomes += settled + equal + await self.send(todo, "organizations")
        return outcomes

    def finder(self, source_id: str) -> CandidateFinder | None:
        """What settles contacts found by email/phone before sending; None when the API matches them
        itself (``--match-policy any``) or there is no ``--match``."""
        if not self.options.match or self.options.match_policy == "any":
            return None
        return CandidateFinder(
            self.client,
            source_id,
            self.options.division_id,
            self.options.match,
            self.options.match_policy,
            self.concurrency,
            dry_run=self.options.dry_run,
            known=self.settle.known_ids("contact"),
        )

    async def contacts(
        self, operations: Iterator[Operation], orgs: list[Outcome], source_id: str
    ) -> list[Outcome]:
        org_by_key = {o.key: o for o in orgs}
        existing = ExistingOrganizations(
            self.client, self.settle, source_id, self.options.division_id, self.concurrency
        )
        finder = self.finder(source_id)
        # One finder per call, and a large file calls once per partition: its lookups add up.
        lookups_before = self.stats.match_lookups
        outcomes: list[Outcome] = []
        for chunk in chunks(operations, PLAN_CHUNK):
            # Contacts settled without sending need no organization id, so an organization failing this
            # time does not turn an unchanged contact into a skipped one.
            todo, settled = self.settle.split(chunk, "contact")
            todo, settled = resend_if_organization_is_new(chunk, todo, settled, org_by_key)
            self.progress.record(settled)
            await existing.resolve(
                {op.organization_key for op in todo if op.organization_key} - org_by_key.keys()
            )
            ready, skips = link_contacts(todo, org_by_key, existing.ids, dry_run=self.options.dry_run)
            if finder is not None:
                ready, decided = await finder.resolve(ready)
                skips += decided
                self.stats.match_lookups = lookups_before + finder.lookups
            self.settle.record(skips, answered=False)
            self.progress.record(skips)
            # Compared once linked, so a contact whose organization changed is not taken as equal.
            ready, equal = await self.drop_live_equal(ready, "contact")
            await self.save_before(ready, "contact")
            outcomes += settled + skips + equal + await self.send(ready, "contacts")
        return outcomes


@dataclass
class PartPush:
    """Pushes groupings one after another (a whole file, or a large file's partitions) under one run: the
    external source, schemas and plan options resolved once, one journal settling, one set of stats.

    A grouping's organizations go before its contacts; each contact's organization must be in the same
    grouping, or already stored (what the chunked stage's partitions guarantee).
    """

    specs: Specs
    plan: PlanOptions
    source_id: str | None
    # None when a dry run's external source does not exist yet: nothing is asked, everything is created.
    file_push: _FilePush | None

    async def push(self, grouped: Grouped) -> list[Outcome]:
        organizations = organization_operations(grouped.organizations, self.specs, self.plan)
        contacts = contact_operations(grouped.contacts, self.specs, self.plan)
        if self.file_push is None or self.source_id is None:
            return [
                Outcome(op.kind, op.key, Status.CREATED, op.source_rows, organization_key=op.organization_key)
                for op in (*organizations, *contacts)
            ]
        org_outcomes = await self.file_push.organizations(organizations)
        return org_outcomes + await self.file_push.contacts(contacts, org_outcomes, self.source_id)

    @property
    def stats(self) -> PushStats:
        return self.file_push.stats if self.file_push is not None else PushStats()

    @property
    def warnings(self) -> list[str]:
        return [NEW_SOURCE_MESSAGE] if self.file_push is None else []


async def start_push(
    client: GenesysClient,
    columns: Grouped,
    options: ImportOptions,
    *,
    rate_limit: int,
    specs: Specs,
    progress: Progress,
    ledger: RunLedger | None = None,
) -> PartPush:
    """Resolve what every grouping of the run is pushed with; ``columns`` gives the records' columns
    (which custom fields need a schema), its rows are not read."""
    source_id = await resolve_external_source(
        client, options.external_source, create=options.create_source, dry_run=options.dry_run
    )
    plan = await plan_options(client, columns, options, source_id)
    if source_id is None:
        return PartPush(specs, plan, None, None)
    settle = Settle(ledger, ledger.scope(source_id) if ledger else None, options.full)
    concurrency = options.concurrency or default_concurrency(rate_limit)
    file_push = _FilePush(client, options, concurrency, progress, settle)
    if options.compare_live:
        file_push.live = LiveReader(client, source_id, options.division_id, concurrency)
        file_push.specs = specs
    if options.save_before and ledger is not None and not options.dry_run:
        reader = LiveReader(client, source_id, options.division_id, concurrency)
        file_push.before = BeforeImages(reader, ledger, source_id)
    return PartPush(specs, plan, source_id, file_push)


async def push_grouped(
    client: GenesysClient,
    grouped: Grouped,
    decided: pl.DataFrame,
    options: ImportOptions,
    *,
    rate_limit: int,
    specs: Specs | None = None,
    progress: Progress | None = None,
    ledger: RunLedger | None = None,
) -> PushReport:
    """Push the grouped records (organizations, then contacts) and merge the outcomes per row.

    With a ``ledger`` (the journal), every answered batch is committed before it counts as done, records
    answered before a resume are not sent again (those it recorded as ``skipped`` are decided again), and
    records identical to their last successful push are ``unchanged`` and not sent (unless
    ``options.full``).
    """
    specs = specs or load_specs()
    progress = progress or Progress()
    started = time.monotonic()
    pusher = await start_push(
        client, grouped, options, rate_limit=rate_limit, specs=specs, progress=progress, ledger=ledger
    )
    progress.organizations_total = grouped.organizations.height
    progress.contacts_total = grouped.contacts.height
    outcomes = await pusher.push(grouped)
    return _report(decided, outcomes, started, pusher.stats, pusher.warnings)
