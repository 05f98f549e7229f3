"""Pushing one validated file: organizations, then contacts, in chunks, settled against the journal.

Organizations go first so every contact can carry ``externalOrganization.id``; a contact whose
organization did not make it is skipped with that organization's error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipeline.destination import (
    DEFAULT_EXTERNAL_SOURCE,
    custom_fields,
    resolve_external_source,
    resolve_schema,
)
from pipeline.errors import ConfigError
from pipeline.fields import Specs, load_specs
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.models import Kind as ApiKind
from pipeline.importing.before import BeforeImages
from pipeline.importing.candidates import CandidateFinder
from pipeline.importing.compare import field_changes
from pipeline.importing.deletions import DEFAULT_MAX_DELETE, DeleteGuard
from pipeline.importing.live import LiveReader
from pipeline.importing.matching import MATCH_POLICIES, MatchPolicy
from pipeline.importing.plan import (
    BLANKS_MODES,
    Blanks,
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
from pipeline.journal.ledger import RunLedger
from pipeline.journal.records import BatchTiming, Known, Recorded
from pipeline.outcomes import Outcome, Status
from pipeline.prepare.group import Grouped
from pipeline.report.merge import merge_outcomes
from pipeline.report.reconcile import record_counts

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
    # An empty cell in a column the file has: leave the stored field alone (keep) or clear it (clear).
    blanks: Blanks = "keep"
    # Read the live records first and send only those whose stored values differ from what would be sent.
    compare_live: bool = False
    # After the push, delete the source's records whose key the file no longer has (delete_missing.py).
    delete_missing: bool = False
    # The most records --delete-missing may delete: a count ("25") or a share of the source's ("5%").
    max_delete: str = DEFAULT_MAX_DELETE
    # How a contact found only by email/phone is confirmed as the same person (docs/matching.md).
    match_policy: MatchPolicy = "strict"
    # Journal each record's stored state before writing it, so `runs revert` can restore it.
    save_before: bool = False

    def __post_init__(self) -> None:
        # A bad option is reported before any file is read.
        if self.match_policy not in MATCH_POLICIES:
            policies = ", ".join(MATCH_POLICIES)
            raise ConfigError(f"--match-policy must be one of {policies}, not {self.match_policy!r}")
        if self.blanks not in BLANKS_MODES:
            modes = " or ".join(repr(m) for m in BLANKS_MODES)
            raise ConfigError(f"--blanks must be {modes}, not {self.blanks!r}")
        DeleteGuard.parse(self.max_delete)


# Statuses that count as errors in the live progress.
_PROGRESS_ERRORS = (str(Status.FAILED), str(Status.UNKNOWN), str(Status.SKIPPED), str(Status.AMBIGUOUS_MATCH))


@dataclass
class Progress:
    """Live tallies the CLI renders while the run goes; updated after every batch.

    ``counts`` holds records per kind and status, counted by :func:`record_counts` like the summary.
    """

    organizations_total: int = 0
    contacts_total: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    listeners: list[Callable[[Progress], None]] = field(default_factory=list)
    # Warnings found before the push (reading, validating): announced then, so they show before it starts.
    warnings: list[str] = field(default_factory=list)
    warning_listeners: list[Callable[[str], None]] = field(default_factory=list)

    def warn(self, *messages: str) -> None:
        for message in messages:
            self.warnings.append(message)
            for listener in self.warning_listeners:
                listener(message)

    @property
    def organizations_done(self) -> int:
        return sum(self.counts.get("organization", {}).values())

    @property
    def contacts_done(self) -> int:
        return sum(self.counts.get("contact", {}).values())

    @property
    def errors(self) -> int:
        return sum(n for tally in self.counts.values() for s, n in tally.items() if s in _PROGRESS_ERRORS)

    def record(self, outcomes: list[Outcome]) -> None:
        for kind, counted in record_counts(outcomes).items():
            tally = self.counts.setdefault(kind, {})
            for status, n in counted.items():
                tally[status] = tally.get(status, 0) + n
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
    match_lookups: int = 0


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


def _new_source_dry_run(decided: pl.DataFrame, operations: Iterable[Operation], started: float) -> PushReport:
    """A dry run against a source that does not exist yet: nothing can match, everything would be new."""
    outcomes = [
        Outcome(op.kind, op.key, Status.CREATED, op.source_rows, organization_key=op.organization_key)
        for op in operations
    ]
    return _report(decided, outcomes, started, PushStats(), [NEW_SOURCE_MESSAGE])


# Outcomes that only say what something else decided (a contact skipped because its organization failed):
# a resume re-decides them, since what they depended on may come out differently this time.
REDECIDED_ON_RESUME = frozenset({Status.SKIPPED})


def final_on_resume(recorded: Mapping[str, Recorded]) -> dict[str, Recorded]:
    """The recorded outcomes a resumed run reuses as they are; the others are decided again."""
    return {key: r for key, r in recorded.items() if r.status not in REDECIDED_ON_RESUME}


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
            self._recorded[kind] = final_on_resume(self.ledger.recorded(kind))
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

    def record(
        self, outcomes: list[Outcome], *, answered: bool = True, timing: BatchTiming | None = None
    ) -> None:
        if self.ledger is not None:
            self.ledger.record(outcomes, self.fingerprints, self.scope, answered=answered, timing=timing)


@dataclass
class _ExistingOrganizations:
    """Genesys ids of organizations that rows name only by Account ID: from the journal when it knows
    them, else by an identifier lookup (one per Account ID, remembered for the rest of the run)."""

    client: GenesysClient
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
    settle: _Settle
    stats: PushStats = field(default_factory=PushStats)
    # With --compare-live: reads the stored records, so those already equal to the operation are not sent.
    live: LiveReader | None = None
    specs: Specs | None = None
    # With --save-before: journals the stored records of what is about to be sent.
    before: BeforeImages | None = None
    _stored: dict[str, dict[str, Any]] = field(default_factory=dict)

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

    def on_batch(self, outcomes: list[Outcome], timing: BatchTiming) -> None:
        # Journal first: a batch is done only once its outcomes are committed. Records whose request
        # failed as a whole were not answered; a resumed run sends them again.
        self.settle.record([o for o in outcomes if o.answered], timing=timing)
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
        existing = _ExistingOrganizations(
            self.client, self.settle, source_id, self.options.division_id, self.concurrency
        )
        finder = self.finder(source_id)
        outcomes: list[Outcome] = []
        for chunk in chunks(operations, PLAN_CHUNK):
            # Contacts settled without sending need no organization id, so an organization failing this
            # time does not turn an unchanged contact into a skipped one.
            todo, settled = self.settle.split(chunk, "contact")
            todo, settled = _resend_if_organization_is_new(chunk, todo, settled, org_by_key)
            self.progress.record(settled)
            await existing.resolve(
                {op.organization_key for op in todo if op.organization_key} - org_by_key.keys()
            )
            ready, skips = _link_contacts(todo, org_by_key, existing.ids, dry_run=self.options.dry_run)
            if finder is not None:
                ready, decided = await finder.resolve(ready)
                skips += decided
                self.stats.match_lookups = finder.lookups
            self.settle.record(skips, answered=False)
            self.progress.record(skips)
            # Compared once linked, so a contact whose organization changed is not taken as equal.
            ready, equal = await self.drop_live_equal(ready, "contact")
            await self.save_before(ready, "contact")
            outcomes += settled + skips + equal + await self.send(ready, "contacts")
        return outcomes


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
    source_id = await resolve_external_source(
        client, options.external_source, create=options.create_source, dry_run=options.dry_run
    )
    plan = await plan_options(client, grouped, options, source_id)
    organizations = organization_operations(grouped.organizations, specs, plan)
    contacts = contact_operations(grouped.contacts, specs, plan)
    progress.organizations_total = grouped.organizations.height
    progress.contacts_total = grouped.contacts.height
    if source_id is None:
        return _new_source_dry_run(decided, (*organizations, *contacts), started)
    settle = _Settle(ledger, ledger.scope(source_id) if ledger else None, options.full)
    concurrency = options.concurrency or default_concurrency(rate_limit)
    file_push = _FilePush(client, options, concurrency, progress, settle)
    if options.compare_live:
        file_push.live = LiveReader(client, source_id, options.division_id, concurrency)
        file_push.specs = specs
    if options.save_before and ledger is not None and not options.dry_run:
        reader = LiveReader(client, source_id, options.division_id, concurrency)
        file_push.before = BeforeImages(reader, ledger, source_id)
    org_outcomes = await file_push.organizations(organizations)
    contact_outcomes = await file_push.contacts(contacts, org_outcomes, source_id)
    return _report(decided, org_outcomes + contact_outcomes, started, file_push.stats, [])
