"""``POST .../contacts/enrich``, ``.../organizations/enrich`` and their ``/bulk/`` forms."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from pipeline.sandbox import enrich as core
from pipeline.sandbox.bulk import MAX_ENTITIES, run_bulk
from pipeline.sandbox.faults import failing_indexes
from pipeline.sandbox.gate import FAULT_SCOPE_KEY
from pipeline.sandbox.handlers import Handler, Reply, api, dry_run, json_body, new_id, now_iso
from pipeline.sandbox.problems import bad_request
from pipeline.sandbox.records import API, CONTACT, ORGANIZATION, Kind
from pipeline.sandbox.state import SandboxState
from pipeline.sandbox.views import view


def routes(state: SandboxState) -> list[Route]:
    return [
        Route(f"{API}/contacts/enrich", enrich_one(state, CONTACT), methods=["POST"]),
        Route(f"{API}/organizations/enrich", enrich_one(state, ORGANIZATION), methods=["POST"]),
        Route(f"{API}/bulk/contacts/enrich", enrich_bulk(state, CONTACT), methods=["POST"]),
        Route(f"{API}/bulk/organizations/enrich", enrich_bulk(state, ORGANIZATION), methods=["POST"]),
    ]


def enrich_one(state: SandboxState, kind: Kind) -> Handler:
    store = state.store

    @api
    async def handler(request: Request) -> Reply:
        op = await json_body(request)
        with store.transaction():
            outcome = core.enrich(store, kind, op, now=now_iso(), new_id=new_id)
            if not dry_run(request):
                store.apply(outcome)
        return outcome.status, view(store, kind, outcome.record)

    return handler


def enrich_bulk(state: SandboxState, kind: Kind) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        body = await json_body(request)
        entities = body.get("entities") if isinstance(body, dict) else None
        if not isinstance(entities, list) or not 1 <= len(entities) <= MAX_ENTITIES:
            count = len(entities) if isinstance(entities, list) else entities
            raise bad_request(f"entities must list 1 to {MAX_ENTITIES} operations, got {count}")
        fault = request.scope.get("state", {}).get(FAULT_SCOPE_KEY)
        fail = failing_indexes(fault.rng, len(entities)) if fault else set()
        return 200, run_bulk(
            state.store,
            kind,
            entities,
            dry_run=dry_run(request),
            now=now_iso(),
            new_id=new_id,
            rng=state.rng,
            fail=fail,
        )

    return handler
