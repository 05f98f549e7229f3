"""Pushing one validated file: organizations, then contacts, in chunks, settled against the journal.

Organizations go first so every contact can carry ``externalOrganization.id``; a contact whose
organization did not make it is skipped with that organization's error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipeline.destination import (
    DEFAULT_EXTERNAL_SOURCE,
    custom_fields,
    resolve_external_source,
    resolve_schema,
)
from pipeline.fields import Specs, load_specs
from pipeline.importing.plan import (
    Kind,
    Operation,
    PlanOptions,
    chunks,
    contact_operations,
    link_organization,
    organization_operations,
)
from pipeline.importing.push import PushStats, default_concurrency, push, skipped
from pipeline.importing.settle import reuse_recorded, skip_unchanged
from pipeline.journal.records import Known, Recorded
from pipeline.journal.store import RunLedger
from pipeline.outcomes import Outcome, Status
from pipeline.report.merge import merge_outcomes

NEW_SOURCE_PLACEHOLDER = "(new external source)"
NEW_SOURCE_MESSAGE = (
    "dry run: the external source does not exist yet, so every record would be created; "
    "the API was not asked to check them"
)


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
    # Send every record, even those identical to their last successful push (change-only is the default).
    full: bool = False


@dataclass
class Progress:
    """Counters the CLI renders while the run goes; updated after every batch."""

    organizations_total: int = 0
    organizations_done: int = 0
    contacts_total: int = 0
    contacts_done: int = 0
    errors: int = 0
    listeners: list[Callable[[Progress], None]] = field(default_factory=list)
    # Warnings found before the push (reading, validating): announced then, so they show before it starts.
    warnings: list[str] = field(default_factory=list)
    warning_listeners: list[Callable[[str], None]] = field(default_factory=list)

    def warn(self, *messages: str) -> None:
        for message in messages:
            self.warnings.append(message)
            for listener in self.warning_listeners:
                listener(message)

    def record(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.kind == "organization":
                self.organizations_done += 1
            else:
                self.contacts_done += 1
            if outcome.status in (Status.FAILED, Status.UNKNOWN, Status.SKIPPED):
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
    warnings: list[str] = field(default_factory=list)


def _counts(outcomes: list[Outcome], kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.kind == kind:
            counts[str(outcome.status)] = counts.get(str(outcome.status), 0) + 1
    return counts


def _resend_if_organization_is_new(
    chunk: list[Operation], todo: list[Operation], settled: list[Outcome], orgs: Mapping[str, Outcome]
) -> tuple[list[Operation], list[Outcome]]:
    """Unchanged contacts whose organization was just created (so it has a new id) are sent after all:
    their stored link points at an organization that no longer exists."""

    def new_org(outcome: Outcome) -> bool:
        org = orgs.get(outcome.organization_key or "")
        return outcome.status is Status.UNCHANGED and org is not None and org.status is Status.CREATED

    again = {o.key for o in settled if new_org(o)}
    if not again:
        return todo, settled
    return todo + [op for op in chunk if op.key in again], [o for o in settled if o.key not in again]


def _link_contacts(
    contacts: list[Operation],
    by_key: Mapping[str, Outcome],
    existing: Mapping[str, str | None],
    *,
    dry_run: bool,
) -> tuple[list[Operation], list[Outcome]]:
    """Contacts with their organization's Genesys id; those whose organization failed are skipped.

    ``existing`` holds the ids of organizations a row only names by Account ID (not defined in the file),
    as found in the journal or in Genesys; None where they were found nowhere.
    """
    ready: list[Operation] = []
    skips: list[Outcome] = []
    for op in contacts:
        if op.organization_key is None:
            ready.append(op)
            continue
        org = by_key.get(op.organization_key)
        if org is None and op.organization_key in existing:
            found = existing[op.organization_key]
            if found is None:
                message = (
                    f"Account ID {op.organization_key!r} is not defined in the file (no Account Name) "
                    "and no organization with it was found in Genesys"
                )
                skips.append(skipped(op, "organization.not_found", message))
            else:
                ready.append(link_organization(op, found))
        elif org is None or org.status in (Status.FAILED, Status.UNKNOWN, Status.SKIPPED):
            code = org.error_code if org and org.error_code else "organization.failed"
            reason = org.error_message if org and org.error_message else "not written"
            skips.append(skipped(op, code, f"organization {op.organization_key!r} failed: {reason}"))
        elif org.genesys_id is None or (dry_run and org.status is Status.CREATED):
            # A dry run's "would create" has no stored organization to link to; the contact is still
            # checked, just without the link.
            ready.append(op)
        else:
            ready.append(link_organization(op, org.genesys_id))
    return ready, skips


def _new_source_dry_run(
    decided: pl.DataFrame, organizations: list[Operation], contacts: list[Operation], started: float
) -> PushReport:
    """A dry run against a source that does not exist yet: nothing can match, everything would be new."""
    outcomes = [
        Outcome(op.kind, op.key, Status.CREATED, op.source_rows, organization_key=op.organization_key)
        for op in (*organizations, *contacts)
    ]
    return PushReport(
        outcomes=merge_outcomes(decided, outcomes),
        organizations=_counts(outcomes, "organization"),
        contacts=_counts(outcomes, "contact"),
        duration_s=time.monotonic() - started,
        batches=0,
        entity_retries=0,
        warnings=[NEW_SOURCE_MESSAGE],
    )


@dataclass
class _Settle:
    """Decides which operations are sent, and records outcomes in the journal (when there is one).

    What the journal knows is loaded once per kind; fingerprints are kept only for the chunk in flight.
    """

    ledger: RunLedger | None
    scope: str | None  # where the pushed records are remembered; None: nowhere
    full: bool
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)
    _recorded: dict[str, dict[str, Recorded]] = field(default_factory=dict)
    _known: dict[str, dict[str, Known]] = field(default_factory=dict)
    _ids: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def split(self, operations: list[Operation], kind: Kind) -> tuple[list[Operation], list[Outcome]]:
        """Operations to send, and outcomes settled without sending (answered before a resume, or
        unchanged since the last successful push)."""
        if self.ledger is None:
            return operations, []
        self.fingerprints = {(op.kind, op.key): op.fingerprint for op in operations}
        if kind not in self._recorded:
            self._recorded[kind] = self.ledger.recorded(kind)
            self._known[kind] = {} if self.full else self.ledger.known(self.scope, kind)
        todo, reused = reuse_recorded(operations, self._recorded[kind])
        if self.full:
            return todo, reused
        by_key = {key: fp for (k, key), fp in self.fingerprints.items() if k == kind}
        todo, unchanged = skip_unchanged(todo, self._known[kind], by_key)
        self.record(unchanged, answered=False)
        return todo, reused + unchanged

    def known_ids(self, kind: Kind) -> dict[str, str | None]:
        """Genesys ids the journal remembers for this target and source (empty without a journal)."""
        if self.ledger is None or self.scope is None:
            return {}
        if kind not in self._ids:
            self._ids[kind] = {k: v.genesys_id for k, v in self.ledger.known(self.scope, kind).items()}
        return self._ids[kind]

    def record(self, outcomes: list[Outcome], *, answered: bool = True) -> None:
        if self.ledger is not None:
            self.ledger.record(outcomes, self.fingerprints, self.scope, answered=answered)


@dataclass
class _ExistingOrganizations:
    """Genesys ids of organizations that rows name only by Account ID: from the journal when it knows
    them, else by an identifier lookup (one per Account ID, remembered for the rest of the run)."""

    client: Any
    settle: _Settle
    source_id: str
    division_id: str | None
    concurrency: int
    ids: dict[str, str | None] = field(default_factory=dict)

    async def resolve(self, keys: set[str]) -> None:
        keys = keys - self.ids.keys()
        if not keys:
            return
        known = self.settle.known_ids("organization")
        for key in [k for k in keys if known.get(k)]:
            self.ids[key] = known[key]
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def lookup(key: str) -> None:
            identifier: dict[str, Any] = {
                "type": "ExternalId",
                "value": key,
                "externalSource": {"id": self.source_id},
            }
            if self.division_id:
                identifier["division"] = {"id": self.division_id}
            async with gate:
                found = await self.client.lookup_identifier("organizations", identifier)
            self.ids[key] = str(found["id"]) if found and found.get("id") else None

        await asyncio.gather(*(lookup(k) for k in sorted(keys - self.ids.keys())))


# Operations are planned and pushed this many at a time, so a file of a million contacts never holds a
# million request bodies in memory; large enough that the workers rarely wait at a chunk boundary.
PLAN_CHUNK = 5_000


async def push_grouped(
    client: Any,
    grouped: Any,
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
    answered before a resume are not sent again, and records identical to their last successful push
    are ``unchanged`` and not sent (unless ``options.full``).
    """
    specs = specs or load_specs()
    progress = progress or Progress()
    started = time.monotonic()
    source_id = await resolve_external_source(
        client, options.external_source, create=options.create_source, dry_run=options.dry_run
    )
    plan = PlanOptions(
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
    )
    organizations = organization_operations(grouped.organizations, specs, plan)
    contacts = contact_operations(grouped.contacts, specs, plan)
    progress.organizations_total = grouped.organizations.height
    progress.contacts_total = grouped.contacts.height
    if source_id is None:
        return _new_source_dry_run(decided, list(organizations), list(contacts), started)
    concurrency = options.concurrency or default_concurrency(rate_limit)
    stats = PushStats()
    settle = _Settle(ledger, ledger.scope(source_id) if ledger else None, options.full)

    def on_batch(outcomes: list[Outcome]) -> None:
        # Journal first: a batch is done only once its outcomes are committed. Records whose request
        # failed as a whole were not answered; a resumed run sends them again.
        settle.record([o for o in outcomes if o.answered])
        progress.record(outcomes)

    async def send(operations: list[Operation], endpoint: str) -> list[Outcome]:
        return await push(
            client,
            operations,
            endpoint=endpoint,
            concurrency=concurrency,
            dry_run=options.dry_run,
            on_batch=on_batch,
            stats=stats,
        )

    org_outcomes: list[Outcome] = []
    for chunk in chunks(organizations, PLAN_CHUNK):
        todo, settled = settle.split(chunk, "organization")
        progress.record(settled)
        org_outcomes += settled + await send(todo, "organizations")

    org_by_key = {o.key: o for o in org_outcomes}
    existing = _ExistingOrganizations(client, settle, source_id, options.division_id, concurrency)
    contact_outcomes: list[Outcome] = []
    for chunk in chunks(contacts, PLAN_CHUNK):
        # Contacts settled without sending need no organization id, so an organization failing this
        # time does not turn an unchanged contact into a skipped one.
        todo, settled = settle.split(chunk, "contact")
        todo, settled = _resend_if_organization_is_new(chunk, todo, settled, org_by_key)
        progress.record(settled)
        await existing.resolve(
            {op.organization_key for op in todo if op.organization_key} - org_by_key.keys()
        )
        ready, skips = _link_contacts(todo, org_by_key, existing.ids, dry_run=options.dry_run)
        settle.record(skips, answered=False)
        progress.record(skips)
        contact_outcomes += settled + skips + await send(ready, "contacts")

    everything = org_outcomes + contact_outcomes
    return PushReport(
        outcomes=merge_outcomes(decided, everything),
        organizations=_counts(everything, "organization"),
        contacts=_counts(everything, "contact"),
        duration_s=time.monotonic() - started,
        batches=stats.batches,
        entity_retries=stats.entity_retries,
    )
