"""``GET`` and ``PATCH .../contacts/{id}/identifiers`` (and organizations): list, claim and release.

A claim of an identifier another record holds moves it (Genesys help, "Claim a contact identifier");
a release of one the record does not hold is 404. Organizations claim only ExternalIds.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from pipeline.sandbox.enrich import Outcome
from pipeline.sandbox.handlers import Handler, Reply, api, json_body, now_iso
from pipeline.sandbox.problems import NOT_FOUND, EntityError, Problems, bad_request, not_found
from pipeline.sandbox.records import API, CONTACT, ORGANIZATION, Kind, identifier, identifier_claim_key
from pipeline.sandbox.state import SandboxState
from pipeline.sandbox.store import Store
from pipeline.sandbox.validation import identifier_key

OPERATIONS = ("Claim", "Release")


def routes(state: SandboxState) -> list[Route]:
    store = state.store
    contact = f"{API}/contacts/{{contactId}}/identifiers"
    organization = f"{API}/organizations/{{externalOrganizationId}}/identifiers"
    return [
        Route(contact, listing(store, CONTACT), methods=["GET"]),
        Route(contact, claim_or_release(store, CONTACT), methods=["PATCH"]),
        Route(organization, listing(store, ORGANIZATION), methods=["GET"]),
        Route(organization, claim_or_release(store, ORGANIZATION), methods=["PATCH"]),
    ]


def _record(store: Store, kind: Kind, request: Request) -> dict[str, Any]:
    record_id = next(iter(request.path_params.values()))
    record = store.get(kind.collection, record_id)
    if record is None:
        raise not_found(f"{kind.label} {record_id}")
    return record


def listing(store: Store, kind: Kind) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        return 200, {"entities": _record(store, kind, request).get("identifiers") or []}

    return handler


def claim_or_release(store: Store, kind: Kind) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        body = await json_body(request)
        if not isinstance(body, dict) or body.get("operation") not in OPERATIONS:
            raise bad_request(f"operation must be one of {', '.join(OPERATIONS)}")
        ident = body.get("identifier")
        if not isinstance(ident, dict) or ident.get("type") not in kind.identifier_types:
            raise bad_request(f"identifier.type must be one of {', '.join(sorted(kind.identifier_types))}")
        with store.transaction():
            record = _record(store, kind, request)
            problems = Problems()
            key = identifier_key(kind, record["division"]["id"], ident, "identifier", store, problems)
            problems.raise_if_any()
            if key is None:
                raise bad_request(f"{ident['type']} identifiers cannot be claimed")
            held = record.get("identifiers") or []
            mine = [i for i in held if identifier_claim_key(kind, i) == key]
            if body["operation"] == "Release":
                if not mine:
                    raise EntityError(
                        404, NOT_FOUND, f"{kind.label} {record['id']} does not hold this identifier"
                    )
                record["identifiers"] = [i for i in held if identifier_claim_key(kind, i) != key]
                store.apply(Outcome(kind, record, created=False))
                return 200, mine[0]
            if mine:
                return 200, mine[0]
            claimed = identifier(key, record["division"], now_iso())
            record["identifiers"] = [*held, claimed]
            store.apply(Outcome(kind, record, created=False))  # takes the claim from its holder
            return 200, claimed

    return handler
