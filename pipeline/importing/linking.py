"""Linking contacts to their organization's Genesys id before they are sent: from the organizations the
file just pushed, or, for an Account ID the file only names, from the journal or an identifier lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.genesys.client import GenesysClient
from pipeline.genesys.models import external_id_identifier
from pipeline.importing.journal_settle import Settle
from pipeline.importing.plan import Operation, link_organization
from pipeline.importing.push import skipped
from pipeline.outcomes import Outcome, Status


def resend_if_organization_is_new(
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


def link_contacts(
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


@dataclass
class ExistingOrganizations:
    """Genesys ids of organizations that rows name only by Account ID: from the journal when it knows
    them, else by an identifier lookup (one per Account ID, remembered for the rest of the run)."""

    client: GenesysClient
    settle: Settle
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
            identifier = external_id_identifier(self.source_id, key, self.division_id)
            async with gate:
                found = await self.client.lookup_identifier("organizations", identifier)
            self.ids[key] = str(found["id"]) if found and found.get("id") else None

        await asyncio.gather(*(lookup(k) for k in sorted(keys - self.ids.keys())))
