"""``plan``: what an import of a file would change in the live target, without writing anything.

The file is read, validated and grouped exactly as ``import`` does, and the very operations import would
send are built (:mod:`pipeline.importing.plan`); the stored records they would touch are read
(:mod:`pipeline.importing.live`) and compared field by field (:mod:`pipeline.importing.compare`).
Only reads go out: the token, the external source and schema listings, bulk reads, scans and lookups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import asyncrun
from pipeline.destination import resolve_external_source
from pipeline.fields import Specs, load_specs
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.candidates import CandidateFinder, ambiguous_message
from pipeline.importing.chunked_job import StagedFile, chunked_input, is_large, spill_folder, stage_parts
from pipeline.importing.compare import Action, FieldChange, field_changes, record_action
from pipeline.importing.delete_missing import scan_stored
from pipeline.importing.deletions import (
    DeleteGuard,
    Deletion,
    DeletionPlan,
    PresentKeys,
    plan_deletions,
    present_keys,
)
from pipeline.importing.live import LiveReader, LiveReads
from pipeline.importing.options import ImportOptions
from pipeline.importing.plan import (
    Kind,
    Operation,
    PlanOptions,
    contact_operations,
    link_organization,
)
from pipeline.importing.plan import organization_operations as org_operations
from pipeline.importing.push import default_concurrency
from pipeline.importing.push_file import plan_options
from pipeline.journal.store import Journal
from pipeline.prepare.group import Grouped
from pipeline.prepare.stage import Prepared, PrepareOptions, prepare_table, read_input

DIFF_COLUMNS = ("source_row", "kind", "key", "genesys_id", "field", "before", "after", "action")


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One changed field (or one unchanged record); ``account`` groups rows by Account ID.

    Slotted: a plan holds one per changed field of every record (2.7M for the 200k-row bench file), and
    an instance dictionary each was most of their memory.
    """

    source_row: str
    kind: Kind
    key: str
    genesys_id: str | None
    field: str
    before: str | None
    after: str | None
    action: Action
    account: str | None = None
    # The record's first input row (0 for a deletion, which has none): what a large file's rows are put in
    # file order by, without parsing ``source_row`` again for every changed field.
    first_row: int = 0


@dataclass
class PlanResult:
    rows: list[DiffRow] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)  # per record action
    fields_updated: int = 0
    fields_cleared: int = 0
    not_planned: int = 0  # rows import would not send (invalid, conflicts)
    skipped: int = 0  # contacts whose organization import could not find
    ambiguous: int = 0  # contacts import would report ambiguous_match (--match), not send
    reads: LiveReads = field(default_factory=LiveReads)
    warnings: list[str] = field(default_factory=list)

    def add(self, op: Operation, stored: Mapping[str, Any] | None, changes: list[FieldChange]) -> None:
        action = record_action(stored, changes)
        self.records[action] = self.records.get(action, 0) + 1
        self.fields_updated += sum(c.action == "update" for c in changes)
        self.fields_cleared += sum(c.action == "clear" for c in changes)
        genesys_id = str(stored["id"]) if stored is not None and stored.get("id") else None
        account = op.key if op.kind == "organization" else op.organization_key
        # One string for all the record's rows, not one per changed field.
        rows = ";".join(str(r) for r in op.source_rows)
        first = min(op.source_rows)

        def row(fieldname: str, before: str | None, after: str | None, what: Action) -> DiffRow:
            return DiffRow(rows, op.kind, op.key, genesys_id, fieldname, before, after, what, account, first)

        if action == "unchanged":
            self.rows.append(row("", None, None, "unchanged"))
        self.rows += [row(c.field, c.before, c.after, c.action) for c in changes]

    def add_deletions(self, plan: DeletionPlan) -> None:
        """The records ``import --delete-missing`` would delete (one ``delete`` row each), and why the
        missing organizations it would keep are kept."""
        for gone in (*plan.contacts, *plan.organizations):
            self.records["delete"] = self.records.get("delete", 0) + 1
            account = gone.key if gone.kind == "organization" else _account_of(gone, plan)
            self.rows.append(
                DiffRow("", gone.kind, gone.key, gone.genesys_id, "", None, None, "delete", account)
            )
        for kept, why in plan.kept:
            self.warnings.append(
                f"organization {kept.key} ({kept.genesys_id}) is missing from the file but {why}"
            )
        if plan.over_guard:
            self.warnings.append("import --delete-missing would refuse: " + plan.refusal())


def _account_of(contact: Deletion, plan: DeletionPlan) -> str | None:
    org_id = contact.organization_id
    return plan.organization_keys.get(org_id) if org_id is not None else None


def known_ids(journal: str | Path | None, scope: str | None, kind: Kind) -> dict[str, str | None]:
    """Genesys ids the journal remembers for this scope, read without its lock (a read changes nothing)."""
    if journal is None or scope is None or not Path(journal).exists():
        return {}
    db = Journal(journal, create=False)
    try:
        return {key: known.genesys_id for key, known in db.known(scope, kind).items()}
    finally:
        db.close()


@dataclass
class _Preview:
    """Compares what import would send with the live records: :meth:`start` once, :meth:`part` per
    grouping (the whole file, or each partition of a large one), :meth:`finish` once."""

    client: GenesysClient
    options: ImportOptions
    journal: str | Path | None
    target: str | None
    result: PlanResult = field(default_factory=PlanResult)
    specs: Specs = field(default_factory=load_specs)
    plan: PlanOptions | None = None
    source_id: str | None = None
    reader: LiveReader | None = None

    async def start(self, columns: Grouped) -> None:
        """Resolve the source and what operations are built with; ``columns``' rows are not read."""
        self.source_id = await resolve_external_source(
            self.client, self.options.external_source, create=False, dry_run=True
        )
        self.plan = await plan_options(self.client, columns, self.options, self.source_id)
        if self.source_id is None:
            self.result.warnings.append(
                f"external source {self.options.external_source!r} does not exist yet: every record "
                "would be created"
            )
            return
        self.reader = LiveReader(
            self.client, self.source_id, self.options.division_id, self._concurrency(), self.result.reads
        )

    def _concurrency(self) -> int:
        return self.options.concurrency or default_concurrency(self.client.settings.rate_limit_per_minute)

    async def part(self, grouped: Grouped) -> None:
        """Diff one grouping's organizations, then its contacts (linked within it, or to stored ones)."""
        specs, plan = self.specs, self.plan
        assert plan is not None, "start() first"
        orgs = list(org_operations(grouped.organizations, specs, plan))
        contacts = list(contact_operations(grouped.contacts, specs, plan))
        if self.source_id is None or self.reader is None:
            for op in orgs + contacts:
                self.result.add(op, None, field_changes(op, None, specs))
            return
        scope = f"{self.target} {self.source_id}" if self.target is not None else None
        referenced = {op.organization_key for op in contacts if op.organization_key}
        org_keys = {op.key for op in orgs} | referenced
        known = known_ids(self.journal, scope, "organization")
        live_orgs = await self.reader.read("organization", org_keys, known)
        labels = {str(r["id"]): f"{key} ({r['id']})" for key, r in live_orgs.items()}
        for op in orgs:
            stored = live_orgs.get(op.key)
            self.result.add(op, stored, field_changes(op, stored, specs))
        defined = {op.key for op in orgs}
        linked = [self._link(op, live_orgs, defined, labels) for op in contacts]
        ready = [op for op in linked if op is not None]
        known = known_ids(self.journal, scope, "contact")
        live = await self.reader.read("contact", [op.key for op in ready], known)
        if self.options.match:
            ready, matched = await self._match(ready, live, self.source_id, self._concurrency())
            live = {**live, **matched}
        for op in ready:
            stored = live.get(op.key)
            self.result.add(op, stored, field_changes(op, stored, specs, labels=labels))

    async def finish(self, present: Callable[[], PresentKeys]) -> PlanResult:
        """With --delete-missing, the records import would delete (the source scanned once)."""
        if self.options.delete_missing and self.source_id is not None:
            index = await scan_stored(self.client, present(), self.source_id, self.options.division_id)
            self.result.add_deletions(plan_deletions(index, DeleteGuard.parse(self.options.max_delete)))
        return self.result

    async def run(self, grouped: Grouped, present: PresentKeys) -> PlanResult:
        await self.start(grouped)
        await self.part(grouped)
        return await self.finish(lambda: present)

    async def _match(
        self, ops: list[Operation], live: Mapping[str, Any], source_id: str, concurrency: int
    ) -> tuple[list[Operation], dict[str, Any]]:
        """With --match, what import would do with each contact its ExternalId did not find: the stored
        contact its email/phone leads to (as import's policy decides), or nothing (a create). Contacts
        import would report ``ambiguous_match`` are left out, counted and named in the warnings."""
        finder = CandidateFinder(
            self.client,  # a dry run only looks up: it claims nothing
            source_id,
            self.options.division_id,
            self.options.match,
            self.options.match_policy,
            concurrency,
            dry_run=True,
        )
        unmatched = [op for op in ops if op.key not in live]
        found = await asyncio.gather(*(finder.candidates(op.body["contact"], op.key) for op in unmatched))
        matched: dict[str, Any] = {}
        ambiguous: set[str] = set()
        for op, candidates in zip(unmatched, found, strict=True):
            if not candidates:
                continue
            if self.options.match_policy == "any":
                # The API itself updates the first record any identifier finds.
                matched[op.key] = candidates[0].record
                continue
            confirmed = finder.confirmed(candidates)
            if len(confirmed) == 1:
                matched[op.key] = confirmed[0].record
            else:
                ambiguous.add(op.key)
                rows = ";".join(str(r) for r in op.source_rows)
                message = ambiguous_message(candidates, len(confirmed))
                warning = f"contact {op.key} (row {rows}) would be ambiguous_match: {message}"
                self.result.warnings.append(warning)
        self.result.ambiguous += len(ambiguous)
        self.result.reads.requests["lookup"] += finder.lookups
        self.result.reads.records["lookup"] += sum(len(c) for c in found)
        return [op for op in ops if op.key not in ambiguous], matched

    def _link(
        self, op: Operation, live_orgs: Mapping[str, Any], defined: set[str], labels: dict[str, str]
    ) -> Operation | None:
        """The contact linked as import would link it; None when import would skip it (its Account ID
        is neither defined in the file nor stored)."""
        key = op.organization_key
        if key is None:
            return op
        if key in live_orgs:
            return link_organization(op, str(live_orgs[key]["id"]))
        if key not in defined:
            self.result.skipped += 1
            return None
        # The organization would be created by the same import: its id is not known yet.
        placeholder = f"new:{key}"
        labels[placeholder] = f"{key} (new)"
        return link_organization(op, placeholder)


async def _preview(
    settings: ClientSettings, prepared: Prepared, options: ImportOptions, journal: Any, target: str | None
) -> PlanResult:
    async with GenesysClient(settings) as client:
        present = present_keys(prepared.normalized)
        return await _Preview(client, options, journal, target).run(prepared.grouped, present)


def plan_file(
    path: str | Path,
    settings: ClientSettings,
    options: ImportOptions,
    *,
    prepare: PrepareOptions | None = None,
    journal: str | Path | None = None,
    target: str | None = None,
    remember: bool = True,
) -> PlanResult:
    """Prepare ``path`` as import would and compare what it would send with the live records.

    ``journal`` supplies Genesys ids for bulk reads of records pushed before (under ``target``, default
    the API base URL, as import remembers them; ``remember=False``: a target that forgets between runs);
    nothing is written to it or to the API.
    """
    prepare = prepare or PrepareOptions()
    where = (target or settings.api_base_url) if remember else None
    if is_large(path):
        return _plan_chunked(path, settings, options, prepare, journal, where)
    prepared = prepare_table(read_input(path, prepare), prepare)
    result = asyncrun.run(_preview(settings, prepared, options, journal, where))
    decided = prepared.grouped.outcomes
    result.not_planned = decided.height
    result.warnings = [*prepared.warnings, *result.warnings]
    return result


def _record_order(row: DiffRow) -> tuple[bool, int]:
    """Organizations first, each kind by its record's first row: the order of the whole file's records."""
    return row.kind != "organization", row.first_row


async def _preview_parts(
    settings: ClientSettings,
    staged: StagedFile,
    options: ImportOptions,
    journal: str | Path | None,
    target: str | None,
) -> PlanResult:
    async with GenesysClient(settings) as client:
        preview = _Preview(client, options, journal, target)
        await preview.start(staged.parts.columns())
        for grouped in staged.parts:
            await preview.part(grouped)
        # Partitions come in hash order; a stable sort puts each record's rows where the file has it.
        preview.result.rows.sort(key=_record_order)
        return await preview.finish(lambda: staged.keys)


def _plan_chunked(
    path: str | Path,
    settings: ClientSettings,
    options: ImportOptions,
    prepare: PrepareOptions,
    journal: str | Path | None,
    target: str | None,
) -> PlanResult:
    """``plan`` of a file over ``IN_MEMORY_BYTES``: staged in chunks as import stages it, then each
    partition diffed in turn (:mod:`pipeline.importing.chunked_job`); the diff rows stay in memory."""
    source = chunked_input(path, prepare, None, None)
    with spill_folder() as folder:
        keys = options.delete_missing
        specs = load_specs()
        staged = stage_parts(source.table, prepare, specs, folder, partitions=source.partitions, keys=keys)
        result = asyncrun.run(_preview_parts(settings, staged, options, journal, target))
    result.not_planned = staged.parts.settled
    result.warnings = [*staged.warnings, *result.warnings]
    return result
