"""``import --delete-missing``, the I/O part: scan the target before the push, delete after it.

1. :func:`plan_missing` (before any record is sent): cursor-scan the source's organizations and
   contacts into a :class:`~pipeline.importing.deletions.StoredIndex`, plan the deletions, and refuse
   (ConfigError, exit 2) when they are more than ``--max-delete`` allows: nothing has been sent then.
2. :func:`carry_out` (after the push): write every planned deletion to ``<report stem>.deleted.csv``
   (:mod:`pipeline.importing.deleted_file`), then, only when every row of the file succeeded, delete the
   contacts, then the organizations no remaining contact links to; each outcome goes to the journal as it
   comes, and the file is written again with the outcomes.

The index is taken before the push, so a contact the push moves away from a missing organization still
keeps it this run (skipped, with a message); the next run deletes it. Erring that way never deletes an
organization something links to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, TerminalApiError, TransientApiError
from pipeline.fields import Specs
from pipeline.genesys.models import Kind
from pipeline.genesys.models import Kind as ApiKind
from pipeline.genesys.scanning import Scanner
from pipeline.importing.deleted_file import DeleteResult, write_deleted_file
from pipeline.importing.deletions import (
    DeleteGuard,
    Deletion,
    DeletionPlan,
    PresentKeys,
    StoredIndex,
    StoredKind,
    plan_deletions,
)
from pipeline.journal.ledger import RunLedger
from pipeline.outcomes import Outcome, Status

SCAN_PAGE_SIZE = 200
_ENDPOINT: dict[str, ApiKind] = {"contact": "contacts", "organization": "organizations"}


async def scan_stored(
    client: Any, present: PresentKeys, source_id: str, division_id: str | None = None
) -> StoredIndex:
    """Cursor-scan organizations then contacts (the division's, when given) into a StoredIndex."""
    index = StoredIndex(present, source_id, division_id)
    scanner = Scanner(client, division_id=division_id)
    kinds: tuple[tuple[StoredKind, Kind], ...] = (("organization", "organizations"), ("contact", "contacts"))
    for kind, endpoint in kinds:
        async for page in scanner.pages(endpoint, limit=SCAN_PAGE_SIZE):
            index.add(kind, page.entities)
    return index


async def plan_missing(
    client: Any, present: PresentKeys, external_source: str, division_id: str | None, max_delete: str
) -> DeletionPlan | None:
    """The deletions of this run, or None when the external source does not exist yet (nothing of it is
    stored). Raises ConfigError when they are more than the guard allows."""
    guard = DeleteGuard.parse(max_delete)
    source = await client.find_external_source(external_source)
    if source is None:
        return None
    plan = plan_deletions(await scan_stored(client, present, str(source["id"]), division_id), guard)
    if plan.over_guard:
        raise ConfigError(plan.refusal())
    return plan


@dataclass
class DeleteReport:
    """What became of the planned deletions: ``{"contacts"|"organizations": {status: n}}``."""

    path: Path
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, kind: str, status: str) -> None:
        tally = self.counts.setdefault(f"{kind}s", {})
        tally[status] = tally.get(status, 0) + 1


@dataclass
class _Deleter:
    client: Any
    concurrency: int
    on_result: Callable[[Deletion, DeleteResult], None]
    results: dict[tuple[str, str], DeleteResult] = field(default_factory=dict)

    def settle(self, deletion: Deletion, result: DeleteResult) -> None:
        self.results[(deletion.kind, deletion.key)] = result
        self.on_result(deletion, result)

    async def delete_all(self, deletions: Iterable[Deletion]) -> None:
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def one(deletion: Deletion) -> None:
            async with gate:
                result = await self._delete(deletion)
            self.settle(deletion, result)

        await asyncio.gather(*(one(d) for d in deletions))

    async def _delete(self, deletion: Deletion) -> DeleteResult:
        try:
            gone = await self.client.delete(_ENDPOINT[deletion.kind], deletion.genesys_id)
        except TerminalApiError as exc:
            if exc.status == 409:
                return DeleteResult("skipped", exc.code or "delete.conflict", str(exc))
            return DeleteResult("failed", exc.code or f"http_{exc.status}", str(exc))
        except TransientApiError as exc:
            return DeleteResult("failed", exc.code or "delete.unavailable", str(exc))
        if not gone:
            return DeleteResult("skipped", "delete.not_found", "already gone from Genesys: nothing to delete")
        return DeleteResult("deleted")


def _blocked(plan: DeletionPlan, rows_not_succeeded: int, dry_run: bool) -> DeleteResult | None:
    """The result of every deletion when none may happen this run; None when they go ahead."""
    if rows_not_succeeded:
        return DeleteResult(
            "skipped",
            "delete.blocked",
            f"not deleted: {rows_not_succeeded} row(s) of the file did not succeed (see the reconciliation "
            "file); deletions run only after a run whose every row succeeded",
        )
    if dry_run:
        return DeleteResult("would_delete")
    return None


def _journal(ledger: RunLedger | None, plan: DeletionPlan) -> Callable[[Deletion, DeleteResult], None]:
    """Records each deletion's outcome in the journal as it comes (dry runs record nothing)."""
    statuses = {"deleted": Status.DELETED, "failed": Status.FAILED, "skipped": Status.SKIPPED}
    scope = ledger.scope(plan.source_id) if ledger is not None else None

    def record(deletion: Deletion, result: DeleteResult) -> None:
        if ledger is None or ledger.dry_run or result.status not in statuses:
            return
        outcome = Outcome(
            deletion.kind,
            deletion.key,
            statuses[result.status],
            (),
            genesys_id=deletion.genesys_id,
            error_code=result.error_code,
            error_message=result.error_message,
        )
        ledger.record([outcome], {}, scope)

    return record


async def carry_out(
    client: Any,
    plan: DeletionPlan,
    path: Path,
    *,
    rows_not_succeeded: int,
    dry_run: bool,
    concurrency: int,
    specs: Specs,
    ledger: RunLedger | None = None,
) -> DeleteReport:
    """Write the planned deletions to ``path``, delete them when the run allows it, and write ``path``
    again with each deletion's outcome. See the module doc for the order."""
    report = DeleteReport(path)
    journal = _journal(ledger, plan)

    def on_result(deletion: Deletion, result: DeleteResult) -> None:
        journal(deletion, result)
        report.count(deletion.kind, result.status)

    deleter = _Deleter(client, concurrency, on_result)
    carried = ledger is not None and ledger.resuming
    write_deleted_file(path, plan, {}, specs, carry=carried)  # the records are on disk before any goes
    blocked = _blocked(plan, rows_not_succeeded, dry_run)
    if blocked is not None:
        for deletion in (*plan.contacts, *plan.organizations):
            deleter.settle(deletion, blocked)
    else:
        await deleter.delete_all(plan.contacts)
        # A contact whose deletion did not go through still links to its organization.
        linked = {
            d.organization_id for d in plan.contacts if deleter.results[(d.kind, d.key)].status != "deleted"
        }
        for org in plan.organizations:
            if org.genesys_id in linked:
                deleter.settle(
                    org,
                    DeleteResult(
                        "skipped", "delete.linked", "not deleted: a contact to delete still links to it"
                    ),
                )
        await deleter.delete_all(o for o in plan.organizations if o.genesys_id not in linked)
    for org, why in plan.kept:
        deleter.settle(org, DeleteResult("skipped", "delete.linked", why))
    write_deleted_file(path, plan, deleter.results, specs, carry=carried)
    return report
