"""Scans (one division, or every division's view), identifier lookups, bulk reads by id, and reading
or deleting one contact or organization."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from pipeline.sandbox.bulk import MAX_ENTITIES
from pipeline.sandbox.handlers import Handler, Reply, api, json_body
from pipeline.sandbox.paging import listing
from pipeline.sandbox.problems import (
    CONFLICT,
    NOT_FOUND,
    EntityError,
    Problems,
    bad_request,
    detail,
    not_found,
)
from pipeline.sandbox.records import API, CONTACT, ORGANIZATION, Kind
from pipeline.sandbox.state import SandboxState
from pipeline.sandbox.store import Store
from pipeline.sandbox.validation import check_division, identifier_key
from pipeline.sandbox.views import parse_expand, view


def routes(state: SandboxState) -> list[Route]:
    store = state.store
    contact, organization = f"{API}/contacts/{{contactId}}", f"{API}/organizations/{{externalOrganizationId}}"
    return [
        Route(f"{API}/scan/contacts", scan(store, CONTACT), methods=["GET"]),
        Route(f"{API}/scan/organizations", scan(store, ORGANIZATION), methods=["GET"]),
        Route(f"{API}/scan/contacts/divisionviews/all", scan_all(store, CONTACT), methods=["GET"]),
        Route(f"{API}/scan/organizations/divisionviews/all", scan_all(store, ORGANIZATION), methods=["GET"]),
        Route(f"{API}/identifierlookup/contacts", lookup(store, CONTACT), methods=["POST"]),
        Route(f"{API}/identifierlookup/organizations", lookup(store, ORGANIZATION), methods=["POST"]),
        Route(f"{API}/bulk/contacts", bulk_fetch(store, CONTACT), methods=["POST"]),
        Route(f"{API}/bulk/organizations", bulk_fetch(store, ORGANIZATION), methods=["POST"]),
        Route(contact, get_record(store, CONTACT), methods=["GET"]),
        Route(contact, delete_record(store, CONTACT), methods=["DELETE"]),
        Route(organization, get_record(store, ORGANIZATION), methods=["GET"]),
        Route(organization, delete_record(store, ORGANIZATION), methods=["DELETE"]),
    ]


def scan(store: Store, kind: Kind) -> Handler:
    """One division's records: ``divisionId``, or the home division without it (in an org with
    divisions the plain scan does not reach the others; DEVTOOLING-1826)."""

    @api
    async def handler(request: Request) -> Reply:
        division = store.division(request.query_params.get("divisionId") or None)
        division_id = division["id"] if division else None

        def in_division(record: dict[str, Any]) -> bool:
            return bool(record["division"]["id"] == division_id)

        body = listing(store, kind.collection, request.url.path, request.query_params, in_division)
        return 200, _viewed(store, kind, body)

    return handler


def scan_all(store: Store, kind: Kind) -> Handler:
    """``/scan/{kind}/divisionviews/all``: every division the token can see, in one cursor listing."""

    @api
    async def handler(request: Request) -> Reply:
        body = listing(store, kind.collection, request.url.path, request.query_params)
        return 200, _viewed(store, kind, body)

    return handler


def _viewed(store: Store, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    body["entities"] = [view(store, kind, record) for record in body["entities"]]
    return body


def get_record(store: Store, kind: Kind) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        record_id = next(iter(request.path_params.values()))
        expand = parse_expand(request.query_params.getlist("expand"))
        record = store.resolve(kind.collection, record_id)
        if record is None:
            raise not_found(f"{kind.label} {record_id}")
        return 200, view(store, kind, record, expand)

    return handler


# How many of the contacts that keep an organization from being deleted the error names.
LINKED_SHOWN = 5


def bulk_fetch(store: Store, kind: Kind) -> Handler:
    """``POST .../bulk/contacts`` (BulkIdsRequest ``{"entities": [{"id": ...}]}``): one result per id, in
    request order, the record as ``entity``; an id that names no record is a failed result (404
    ``not.found``) counted in ``errorIndexes``, not an error of the whole request. The SDK's bulk read
    takes no ``expand``, so each record is shown unexpanded, as a plain ``GET`` shows it."""

    @api
    async def handler(request: Request) -> Reply:
        body = await json_body(request)
        entities = body.get("entities") if isinstance(body, dict) else None
        if not isinstance(entities, list) or not 1 <= len(entities) <= MAX_ENTITIES:
            count = len(entities) if isinstance(entities, list) else entities
            raise bad_request(f"entities must list 1 to {MAX_ENTITIES} ids, got {count}")
        results = []
        for entity in entities:
            record_id = entity.get("id") if isinstance(entity, dict) else None
            if not isinstance(record_id, str) or not record_id:
                raise bad_request('every entity must be {"id": "..."}')
            record = store.resolve(kind.collection, record_id)
            if record is None:
                error = EntityError(404, NOT_FOUND, f"{kind.label} {record_id} not found")
                results.append(
                    {"id": record_id, "success": False, "error": error.bulk_error(entity), "status": 404}
                )
            else:
                entity = view(store, kind, record)
                results.append({"id": record_id, "success": True, "entity": entity, "status": 200})
        errors = [i for i, r in enumerate(results) if not r["success"]]
        return 200, {"results": results, "errorCount": len(errors), "errorIndexes": errors}

    return handler


def delete_record(store: Store, kind: Kind) -> Handler:
    """``DELETE``: 200 ``{}`` and the record's identifiers released, or 404; an organization that contacts
    still link to is refused (409), since nothing documents what becomes of their link (docs/sandbox.md)."""

    @api
    async def handler(request: Request) -> Reply:
        record_id = next(iter(request.path_params.values()))
        with store.transaction():
            if kind is ORGANIZATION and (linked := store.linked_contacts(record_id, LINKED_SHOWN + 1)):
                shown = ", ".join(linked[:LINKED_SHOWN]) + (", ..." if len(linked) > LINKED_SHOWN else "")
                raise EntityError(
                    409,
                    CONFLICT,
                    f"{kind.label} {record_id} still has linked contacts ({shown}): "
                    "delete or relink them first",
                    [detail("externalOrganization.id", c, "links here") for c in linked[:LINKED_SHOWN]],
                )
            if not store.delete(kind.collection, record_id):
                raise not_found(f"{kind.label} {record_id}")
        return 200, {}

    return handler


def lookup(store: Store, kind: Kind) -> Handler:
    """``POST /identifierlookup/{kind}``: the record that claims the identifier; the SDK's lookup takes
    ``expand`` like a ``GET``."""

    @api
    async def handler(request: Request) -> Reply:
        expand = parse_expand(request.query_params.getlist("expand"))
        ident = await json_body(request)
        if not isinstance(ident, dict) or ident.get("type") not in kind.identifier_types:
            raise bad_request(f"type must be one of {', '.join(sorted(kind.identifier_types))}")
        problems = Problems()
        if ident.get("division") is not None:
            division = check_division(ident["division"], store, problems)
            divisions = [division] if division else []
        else:
            divisions = store.divisions()
        key = identifier_key(kind, "", ident, "identifier", store, problems)
        problems.raise_if_any()
        for division in divisions if key else ():
            owner = store.claim_owner((key[0], division["id"], *key[2:]))  # type: ignore[index]
            record = store.get(kind.collection, owner) if owner else None
            if record is not None:
                return 200, view(store, kind, record, expand)
        raise EntityError(404, NOT_FOUND, f"No {kind.name} claims this identifier")

    return handler
