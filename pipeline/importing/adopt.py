"""``adopt``: make records created by hand or by another integration reachable by this source's ExternalId.

Per record of the file: the Genesys id column (``genesys_contact_id`` / ``genesys_organization_id``, as
export writes them) names the record; without it, a contact is found by the strict multi-factor rule
(:mod:`pipeline.importing.matching`) and an organization by its exact name (ignoring case) in the
division. Adopting (``apply``) claims the ExternalId on the record, writes it into the record's
``externalIds`` (dropping the ones ``release_prefixes`` name), then releases the identifiers whose value
starts with one of those prefixes. Every step can be replayed: a record already holding the ExternalId is
``already_ours``. After that an ordinary import updates the record instead of creating a duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.errors import ApiError, TerminalApiError
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.models import Kind as ApiKind
from pipeline.genesys.models import external_id_identifier
from pipeline.importing.candidates import CandidateFinder, ambiguous_message
from pipeline.importing.matching import fold
from pipeline.importing.plan import Kind, Operation, link_organization

AdoptStatus = Literal["adopted", "would_adopt", "already_ours", "no_match", "ambiguous_match", "failed"]
# Statuses that leave nothing to do: the rest make the command exit 1.
SETTLED: frozenset[str] = frozenset({"adopted", "would_adopt", "already_ours", "no_match"})
# The stored externalIds become exactly the ones sent (not combined with them, the default).
_REPLACE_EXTERNAL_IDS = {"field": "$.externalIds", "action": "AlwaysUseProvided", "arrayAction": "Replace"}
_ENDPOINT: dict[Kind, ApiKind] = {"contact": "contacts", "organization": "organizations"}


@dataclass(frozen=True)
class AdoptOptions:
    source_id: str
    division_id: str | None = None
    release_prefixes: tuple[str, ...] = ()
    apply: bool = False  # --yes: without it nothing is written
    concurrency: int = 4


@dataclass(frozen=True)
class Adoption:
    """What became of one record of the file."""

    kind: Kind
    key: str
    source_rows: tuple[int, ...]
    status: AdoptStatus
    genesys_id: str | None = None
    released: tuple[str, ...] = ()
    message: str | None = None


@dataclass
class Adopter:
    client: GenesysClient
    options: AdoptOptions
    finder: CandidateFinder
    _organizations: dict[str, list[dict[str, Any]]] | None = field(default=None)

    def external_id(self, key: str) -> dict[str, Any]:
        return external_id_identifier(self.options.source_id, key)

    async def adopt(self, op: Operation, genesys_id: str | None) -> Adoption:
        """Find the record ``op`` stands for and (with ``apply``) make it this source's."""
        try:
            record, problem = await self.find(op, genesys_id)
            if record is None:
                status: AdoptStatus = "ambiguous_match" if problem and "matched" in problem else "no_match"
                return Adoption(op.kind, op.key, op.source_rows, status, message=problem)
            return await self.take(op, record)
        except ApiError as err:
            return Adoption(op.kind, op.key, op.source_rows, "failed", genesys_id, message=str(err))

    async def find(self, op: Operation, genesys_id: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """The record to adopt, or None and why."""
        endpoint = _ENDPOINT[op.kind]
        if genesys_id:
            try:
                return await self.client.get(endpoint, genesys_id), None
            except TerminalApiError as err:
                if err.status == 404:
                    return None, f"no {op.kind} with Genesys id {genesys_id}"
                raise
        ours = await self._lookup(endpoint, self.external_id(op.key))
        if ours is not None:
            return ours, None
        if op.kind == "organization":
            return await self.organization_by_name(op)
        candidates = await self.finder.candidates(op.body["contact"], op.key)
        confirmed = self.finder.confirmed(candidates)
        if len(confirmed) == 1:
            return confirmed[0].record, None
        if not candidates:
            return None, "no contact holds its emails or phones"
        return None, ambiguous_message(candidates, len(confirmed))

    async def _lookup(self, endpoint: ApiKind, identifier: dict[str, Any]) -> dict[str, Any] | None:
        if self.options.division_id:
            identifier = {**identifier, "division": {"id": self.options.division_id}}
        found = await self.client.lookup_identifier(endpoint, identifier)
        return found if found and found.get("id") else None

    async def organization_by_name(self, op: Operation) -> tuple[dict[str, Any] | None, str | None]:
        name = fold(op.body["externalOrganization"].get("name"))
        if name is None:
            return None, "no Genesys Organization ID and no Account Name to find it by"
        same = (await self._organizations_by_name()).get(name, [])
        if len(same) == 1:
            return same[0], None
        if not same:
            return None, "no organization of that name in the division"
        ids = ", ".join(str(o["id"]) for o in same)
        return None, f"matched several organizations of that name ({ids}): give its Genesys Organization ID"

    async def _organizations_by_name(self) -> dict[str, list[dict[str, Any]]]:
        """Every organization of the division by folded name, scanned once per run."""
        if self._organizations is None:
            by_name: dict[str, list[dict[str, Any]]] = {}
            cursor: str | None = None
            while True:
                page = await self.client.scan(
                    "organizations", division_id=self.options.division_id, cursor=cursor
                )
                for org in page.entities:
                    if name := fold(org.get("name")):
                        by_name.setdefault(name, []).append(org)
                if page.after is None:
                    break
                cursor = page.after
            self._organizations = by_name
        return self._organizations

    def _other_key(self, record: Mapping[str, Any], key: str) -> str | None:
        for ext in record.get("externalIds") or ():
            source = (ext.get("externalSource") or {}).get("id")
            if source == self.options.source_id and ext.get("value") != key:
                return str(ext.get("value"))
        return None

    async def take(self, op: Operation, record: dict[str, Any]) -> Adoption:
        """Claim the ExternalId and release what the prefixes name (or, without ``apply``, say so)."""
        record_id, endpoint = str(record["id"]), _ENDPOINT[op.kind]
        other = self._other_key(record, op.key)
        if other is not None:
            message = f"Genesys {op.kind} {record_id} already holds ID {other!r} of this source"
            return Adoption(op.kind, op.key, op.source_rows, "ambiguous_match", record_id, message=message)
        held = await self.client.identifiers(endpoint, record_id)
        ours = any(
            i.get("type") == "ExternalId"
            and i.get("value") == op.key
            and (i.get("externalSource") or {}).get("id") == self.options.source_id
            for i in held
        )
        to_release = [i for i in held if self._released(i.get("value"))]
        released = tuple(f"{i.get('type')} {i.get('value')}" for i in to_release)
        status: AdoptStatus = "already_ours" if ours else "adopted"
        if not self.options.apply:
            status = "already_ours" if ours else "would_adopt"
            return Adoption(op.kind, op.key, op.source_rows, status, record_id, released)
        if not ours:
            await self.client.claim_identifier(endpoint, record_id, self.external_id(op.key))
        if not ours or to_release or self._dropped(record):
            await self._write_external_ids(op, record)
        for ident in to_release:
            await self._release(endpoint, record_id, ident)
        return Adoption(op.kind, op.key, op.source_rows, status, record_id, released)

    def _released(self, value: Any) -> bool:
        return isinstance(value, str) and any(value.startswith(p) for p in self.options.release_prefixes)

    def _dropped(self, record: Mapping[str, Any]) -> bool:
        return any(self._released(e.get("value")) for e in record.get("externalIds") or ())

    async def _write_external_ids(self, op: Operation, record: Mapping[str, Any]) -> None:
        """The record's ``externalIds``: this source's key in, the released ones out (an ExternalId left in
        the data would be claimed again by the next write)."""
        kept = [
            {"externalSource": {"id": (e.get("externalSource") or {}).get("id")}, "value": e.get("value")}
            for e in record.get("externalIds") or ()
            if not self._released(e.get("value"))
            and (e.get("externalSource") or {}).get("id") != self.options.source_id
        ]
        ids = [*kept, {"externalSource": {"id": self.options.source_id}, "value": op.key}]
        body: dict[str, Any] = {
            "id": op.key,
            "action": "Update",
            "matchingIdentifiers": [self.external_id(op.key)],
            "contact" if op.kind == "contact" else "externalOrganization": {"externalIds": ids},
            "fieldRules": {"rules": [_REPLACE_EXTERNAL_IDS]},
        }
        if self.options.division_id:
            body["division"] = {"id": self.options.division_id}
        result = await self.client.bulk_enrich(_ENDPOINT[op.kind], [body])
        failed = [r for r in result.results if not r.success]
        if failed:
            error = failed[0].error
            raise ApiError(f"writing the External ID failed: {error.message if error else 'no details'}")

    async def _release(self, endpoint: ApiKind, record_id: str, ident: Mapping[str, Any]) -> None:
        identifier = {k: ident[k] for k in ("type", "value", "externalSource") if k in ident}
        try:
            await self.client.claim_identifier(endpoint, record_id, identifier, release=True)
        except TerminalApiError as err:
            if err.status != 404:  # 404: no longer held (a replay), which is what was wanted
                raise


async def adopt_all(
    adopter: Adopter,
    organizations: Sequence[tuple[Operation, str | None]],
    contacts: Sequence[tuple[Operation, str | None]],
) -> list[Adoption]:
    """Organizations first (a contact's organization is one of its factors), then contacts."""
    gate = asyncio.Semaphore(max(1, adopter.options.concurrency))

    async def one(op: Operation, genesys_id: str | None) -> Adoption:
        async with gate:
            return await adopter.adopt(op, genesys_id)

    orgs = list(await asyncio.gather(*(one(op, gid) for op, gid in organizations)))
    org_ids = {a.key: a.genesys_id for a in orgs if a.genesys_id and a.status in SETTLED}
    linked = [
        (link_organization(op, org_ids[op.organization_key]) if op.organization_key in org_ids else op, gid)
        for op, gid in contacts
    ]
    return orgs + list(await asyncio.gather(*(one(op, gid) for op, gid in linked)))
