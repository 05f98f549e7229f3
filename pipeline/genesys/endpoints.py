"""The typed External Contacts endpoints :class:`~pipeline.genesys.client.GenesysClient` offers: bulk enrich
and bulk reads, scans, identifier lookups and claims, external sources, schemas, merges and deletes.

Each is one or a few calls to :meth:`Endpoints.request`, which the client implements with the rate
limiter, auth and retries (see :mod:`pipeline.genesys.client`); here are only the paths, bodies, what a
replay may do to each, and how the answers are read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from pipeline.errors import TerminalApiError, TransientApiError
from pipeline.genesys.models import KINDS, BulkEnrichResult, Kind, ScanPage

API = "/api/v2/externalcontacts"
MAX_BULK_ENTITIES = 10
DIVISIONS = "/api/v2/authorization/divisions"
DIVISIONS_PAGE_SIZE = 100
# Page size for listing external sources by name prefix: few sources share a prefix.
SOURCES_PAGE_SIZE = 100
MAX_MERGE_CONTACTS = 25

QueryParams = Mapping[str, str | int | float | bool | None]


class Endpoints(ABC):
    """The typed helpers, over the one :meth:`request` the client provides."""

    @abstractmethod
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        retry_unsafe: bool = False,
    ) -> httpx.Response:
        """Send ``method path`` with limiting, auth and retries; ``retry_unsafe`` allows replaying a POST."""

    async def bulk_enrich(
        self, kind: Kind, entities: Sequence[Mapping[str, Any]], *, dry_run: bool = False
    ) -> BulkEnrichResult:
        """One bulk enrich request of 1..10 operations; pair the results with them by ``id``, not position.

        Replayed after a dropped connection only if every operation matches on an ExternalId first (see
        the module doc); ``dry_run`` asks the API what would happen without changing anything.
        """
        _check_kind(kind)
        if not 1 <= len(entities) <= MAX_BULK_ENTITIES:
            raise ValueError(f"a bulk request takes 1 to {MAX_BULK_ENTITIES} entities, not {len(entities)}")
        response = await self.request(
            "POST",
            f"{API}/bulk/{kind}/enrich",
            params={"dryRun": "true"} if dry_run else None,
            json={"entities": list(entities)},
            retry_unsafe=all(matches_external_id_first(op) for op in entities),
        )
        return BulkEnrichResult.from_json(_json(response), dry_run=dry_run)

    async def bulk_get(self, kind: Kind, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records with these Genesys ids, by id, read ``MAX_BULK_ENTITIES`` at a time
        (``POST .../bulk/{kind}``); ids that name no record (a 404 result) are left out, any other failed
        result raises. One request per batch, sent in order: readers are never the bottleneck of a plan.
        """
        _check_kind(kind)
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_BULK_ENTITIES):
            batch = unique[start : start + MAX_BULK_ENTITIES]
            response = await self.request(
                "POST",
                f"{API}/bulk/{kind}",
                json={"entities": [{"id": i} for i in batch]},
                retry_unsafe=True,  # a read changes nothing
            )
            for result in BulkEnrichResult.from_json(_json(response)).results:
                entity = result.entity
                if result.success and entity is not None:
                    found[result.id or str(entity.get("id"))] = entity  # by the id asked for
                elif result.status != 404 and (result.error is None or result.error.status != 404):
                    message = result.error.message if result.error else "no entity and no error"
                    raise TransientApiError(
                        f"POST {API}/bulk/{kind}: reading {result.id} failed: {message}",
                        status=result.status,
                        method="POST",
                        url=f"{API}/bulk/{kind}",
                    )
        return found

    async def scan(
        self,
        kind: Kind,
        *,
        limit: int = 200,
        division_id: str | None = None,
        cursor: str | None = None,
        all_divisions: bool = False,
    ) -> ScanPage:
        """One page of ``/scan/{kind}``, or with ``all_divisions`` of ``/scan/{kind}/divisionviews/all``
        (every division the token can see; that listing takes no ``divisionId``)."""
        _check_kind(kind)
        if all_divisions:
            path, params = f"{API}/scan/{kind}/divisionviews/all", {"limit": limit, "cursor": cursor}
        else:
            path = f"{API}/scan/{kind}"
            params = {"limit": limit, "cursor": cursor, "divisionId": division_id}
        response = await self.request("GET", path, params=params)
        return ScanPage.from_json(_json(response))

    async def division_ids(self) -> list[str]:
        """The ids of the divisions the token can see (``GET /api/v2/authorization/divisions``)."""
        ids: list[str] = []
        page = 1
        while True:
            response = await self.request(
                "GET", DIVISIONS, params={"pageSize": DIVISIONS_PAGE_SIZE, "pageNumber": page}
            )
            body = _json(response)
            entities = body.get("entities") or [] if isinstance(body, dict) else []
            ids.extend(str(d["id"]) for d in entities if isinstance(d, dict) and d.get("id"))
            if not entities or page >= int(body.get("pageCount") or 1):
                return ids
            page += 1

    async def lookup_identifier(self, kind: Kind, identifier: Mapping[str, Any]) -> dict[str, Any] | None:
        """The record holding ``identifier`` (``{type, value, externalSource?, division?}``), or None."""
        _check_kind(kind)
        try:
            # A lookup changes nothing, so replaying it is always safe.
            response = await self.request(
                "POST", f"{API}/identifierlookup/{kind}", json=dict(identifier), retry_unsafe=True
            )
        except TerminalApiError as exc:
            if exc.status == 404:
                return None
            raise
        return _json(response)

    async def find_external_source(self, name: str) -> dict[str, Any] | None:
        """The external source named exactly ``name`` (the API filters by prefix only), or None."""
        cursor: str | None = None
        while True:
            response = await self.request(
                "GET",
                f"{API}/externalsources",
                params={"name": name, "limit": SOURCES_PAGE_SIZE, "cursor": cursor},
            )
            page = ScanPage.from_json(_json(response))
            for source in page.entities:
                if source.get("name") == name:
                    return source
            if page.after is None or page.after == cursor or not page.entities:
                return None
            cursor = page.after

    async def create_external_source(self, name: str) -> dict[str, Any]:
        """Create an active external source; not replayed after a dropped connection (names are unique)."""
        response = await self.request("POST", f"{API}/externalsources", json={"name": name, "active": True})
        return _json(response)

    async def list_schemas(self, kind: Kind) -> list[dict[str, Any]]:
        _check_kind(kind)
        response = await self.request("GET", f"{API}/{kind}/schemas")
        body = _json(response)
        entities = body.get("entities", []) if isinstance(body, dict) else body
        return [e for e in entities if isinstance(e, dict)]

    async def get(self, kind: Kind, id: str) -> dict[str, Any]:
        _check_kind(kind)
        response = await self.request("GET", f"{API}/{kind}/{quote(id, safe='')}")
        return _json(response)

    async def merge_contacts(
        self, ids: Sequence[str], value_override: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Merge 2..25 contacts into a new one (``POST /contacts/merge``) and return the merged contact.

        ``value_override`` holds fields the merged contact takes whatever the merged ones held. Never
        replayed after a lost answer (a dropped connection after sending, or a 5xx): if the first attempt
        merged, a replay would name contacts that no longer exist and fail with 404, hiding the success.
        Such a call raises :class:`TransientApiError` saying it was not retried; the caller settles what
        happened by reading one of the ids again (``GET`` on a merged-away id answers the merged contact).
        """
        unique = list(dict.fromkeys(ids))
        if not 2 <= len(unique) <= MAX_MERGE_CONTACTS:
            raise ValueError(f"a merge takes 2 to {MAX_MERGE_CONTACTS} distinct ids, not {len(unique)}")
        body: dict[str, Any] = {"contactIds": unique}
        if value_override:
            body["valueOverride"] = dict(value_override)
        response = await self.request("POST", f"{API}/contacts/merge", json=body)
        return _json(response)

    async def claim_identifier(
        self, kind: Kind, id: str, identifier: Mapping[str, Any], *, release: bool = False
    ) -> dict[str, Any]:
        """Claim ``identifier`` for the record (taking it from any holder), or release it
        (``PATCH .../{kind}/{id}/identifiers``). A claim the record already holds is a no-op, so a replay
        is harmless."""
        _check_kind(kind)
        body = {"operation": "Release" if release else "Claim", "identifier": dict(identifier)}
        response = await self.request(
            "PATCH", f"{API}/{kind}/{quote(id, safe='')}/identifiers", json=body, retry_unsafe=True
        )
        return _json(response)

    async def identifiers(self, kind: Kind, id: str) -> list[dict[str, Any]]:
        """The identifiers the record claims."""
        _check_kind(kind)
        response = await self.request("GET", f"{API}/{kind}/{quote(id, safe='')}/identifiers")
        body = _json(response)
        entities = body.get("entities", []) if isinstance(body, dict) else []
        return [e for e in entities if isinstance(e, dict)]

    async def delete(self, kind: Kind, id: str) -> bool:
        """Delete one contact or organization by its Genesys id: True when this call deleted it, False
        when there was no such record.

        DELETE is idempotent, so it is retried after a dropped connection or a 5xx like a read. A 404 to
        such a retry means the lost attempt did the deleting (True); a 404 to the first attempt that
        could have reached the server means the record was not there (False). The body of the answer is
        not read: 200 and 204 both mean done.
        """
        _check_kind(kind)
        try:
            await self.request("DELETE", f"{API}/{kind}/{quote(id, safe='')}")
        except TerminalApiError as exc:
            if exc.status == 404:
                return exc.after_lost_answer
            raise
        return True


def matches_external_id_first(operation: Mapping[str, Any]) -> bool:
    """Whether an enrich operation looks its record up by an ExternalId before anything else."""
    identifiers: Sequence[Any] = operation.get("matchingIdentifiers") or ()
    return (
        bool(identifiers)
        and isinstance(identifiers[0], Mapping)
        and identifiers[0].get("type") == "ExternalId"
    )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


def _json(response: httpx.Response) -> Any:
    """The response body as JSON; a 2xx that is not JSON is a broken answer, worth one more try."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:  # a ValueError, as response.json() raised
        request = response.request
        raise TransientApiError(
            f"{request.method} {request.url.path} -> {response.status_code} with a body that is not JSON",
            status=response.status_code,
            method=request.method,
            url=str(request.url.copy_with(query=None)),
        ) from None
