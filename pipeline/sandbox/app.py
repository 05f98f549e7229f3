"""The sandbox's HTTP surface: ``POST /oauth/token`` and the External Contacts routes under ``/api/v2``.

Handlers are thin: they read the request, call the pure core (:mod:`.enrich`, :mod:`.bulk`) against the
:class:`~.store.Store`, and render the result or the standard error body.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from pipeline.sandbox import enrich as core
from pipeline.sandbox.auth import TokenIssuer
from pipeline.sandbox.bulk import MAX_ENTITIES, run_bulk
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.faults import FaultInjector, failing_indexes
from pipeline.sandbox.gate import FAULT_SCOPE_KEY, Gate
from pipeline.sandbox.paging import listing
from pipeline.sandbox.problems import (
    BAD_REQUEST,
    NAME_CONFLICT,
    NOT_FOUND,
    EntityError,
    Problems,
    bad_request,
    error_body,
    not_found,
)
from pipeline.sandbox.ratelimit import RateLimiter
from pipeline.sandbox.records import API, CONTACT, DIVISIONS_URI, ORGANIZATION, Kind
from pipeline.sandbox.schemas import SCHEMA_URI
from pipeline.sandbox.store import SOURCES, Store
from pipeline.sandbox.validation import check_division, identifier_key

SOURCE_NAME_MAX = 200
URI_TEMPLATE_MAX = 1000


@dataclass(frozen=True)
class SandboxStats:
    """A snapshot of the counters: requests by ``"METHOD /route"``, refusals, and faults by kind."""

    requests: dict[str, int]
    rate_limited: int
    unauthorized: int
    faults: dict[str, int]

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_request(self, route: str) -> None:
        with self.lock:
            self.requests[route] += 1

    def count(self, refusal: str) -> None:
        with self.lock:
            self.refusals[refusal] += 1

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def snapshot(self) -> SandboxStats:
        with self.lock:
            return SandboxStats(
                dict(self.requests),
                self.refusals["rate_limited"],
                self.refusals["unauthorized"],
                dict(self.faults),
            )


class SandboxState:
    """Everything a running sandbox holds: settings, store, tokens, limiter, faults, counters."""

    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.tokens = TokenIssuer(config.client_id, config.client_secret, config.token_lifetime)
        self.limiter = RateLimiter(config.rate_limit, config.rate_window_s)
        self.faults = FaultInjector(
            config.seed, config.fault_rate, config.fault_kinds, config.latency_ms, config.latency_jitter_ms
        )
        self.stats = Stats()
        self.rng = random.Random(config.seed)  # result shuffling


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id() -> str:
    return str(uuid.uuid4())


Handler = Callable[[Request], Awaitable[Response]]


def api(handler: Callable[[Request], Awaitable[Any]]) -> Handler:
    """Render a handler's ``(status, body)`` or a raised :class:`EntityError` as JSON."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except EntityError as err:
            return JSONResponse(err.body(), status_code=err.status)
        if isinstance(result, Response):
            return result
        status, body = result
        return JSONResponse(body, status_code=status)

    return endpoint


async def json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as err:
        raise bad_request("The request body is not valid JSON") from err


def dry_run(request: Request) -> bool:
    return request.query_params.get("dryRun", "false").lower() == "true"


def create_app(state: SandboxState) -> ASGIApp:
    """The ASGI application of one sandbox."""
    store = state.store

    async def token(request: Request) -> Response:
        if not state.tokens.check_basic(request.headers.get("authorization")):
            body = {"error": "invalid_client", "description": "client not found"}
            return JSONResponse({**body, "error_description": body["description"]}, status_code=401)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            body = {"error": "unsupported_grant_type", "description": "grant_type must be client_credentials"}
            return JSONResponse({**body, "error_description": body["description"]}, status_code=400)
        return JSONResponse(state.tokens.issue())

    def enrich_one(kind: Kind) -> Handler:
        @api
        async def handler(request: Request) -> Any:
            op = await json_body(request)
            with store.transaction():
                outcome = core.enrich(store, kind, op, now=now_iso(), new_id=new_id)
                if not dry_run(request):
                    store.apply(outcome)
            return outcome.status, outcome.record

        return handler

    def enrich_bulk(kind: Kind) -> Handler:
        @api
        async def handler(request: Request) -> Any:
            body = await json_body(request)
            entities = body.get("entities") if isinstance(body, dict) else None
            if not isinstance(entities, list) or not 1 <= len(entities) <= MAX_ENTITIES:
                count = len(entities) if isinstance(entities, list) else entities
                raise bad_request(
                    f"entities must list 1 to {MAX_ENTITIES} operations, got {count}",
                )
            fault = request.scope.get("state", {}).get(FAULT_SCOPE_KEY)
            fail = failing_indexes(fault.rng, len(entities)) if fault else set()
            return 200, run_bulk(
                store,
                kind,
                entities,
                dry_run=dry_run(request),
                now=now_iso(),
                new_id=new_id,
                rng=state.rng,
                fail=fail,
            )

        return handler

    def scan(kind: Kind) -> Handler:
        @api
        async def handler(request: Request) -> Any:
            division_id = request.query_params.get("divisionId")
            keep = (lambda r: r["division"]["id"] == division_id) if division_id else None
            return 200, listing(store, kind.collection, request.url.path, request.query_params, keep)

        return handler

    def get_record(kind: Kind) -> Handler:
        @api
        async def handler(request: Request) -> Any:
            record_id = next(iter(request.path_params.values()))
            record = store.resolve(kind.collection, record_id)
            if record is None:
                raise not_found(f"{kind.label} {record_id}")
            return 200, record

        return handler

    def delete_record(kind: Kind) -> Handler:
        @api
        async def handler(request: Request) -> Any:
            record_id = next(iter(request.path_params.values()))
            if not store.delete(kind.collection, record_id):
                raise not_found(f"{kind.label} {record_id}")
            return 200, {}

        return handler

    def lookup(kind: Kind) -> Handler:
        @api
        async def handler(request: Request) -> Any:
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
                    return 200, record
            raise EntityError(404, NOT_FOUND, f"No {kind.name} claims this identifier")

        return handler

    def schemas(kind: Kind) -> Handler:
        @api
        async def handler(request: Request) -> Any:
            entities = [_schema_view(kind, s) for s in store.schemas(kind.name)]
            return 200, {"total": len(entities), "entities": entities, "selfUri": request.url.path}

        return handler

    def schema(kind: Kind) -> Handler:
        @api
        async def handler(request: Request) -> Any:
            found = store.schema(request.path_params["schemaId"])
            if found is None or found not in store.schemas(kind.name):
                raise not_found(f"Schema {request.path_params['schemaId']}")
            return 200, _schema_view(kind, found)

        return handler

    @api
    async def merge(request: Request) -> Any:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad_request("The body must be {contactIds, valueOverride}")
        with store.transaction():
            outcome = core.merge(
                store, body.get("contactIds"), body.get("valueOverride"), now=now_iso(), new_id=new_id
            )
            store.apply(outcome)
        return 200, outcome.record

    @api
    async def list_sources(request: Request) -> Any:
        prefix = request.query_params.get("name", "").lower()
        active = request.query_params.get("active")

        def keep(source: dict[str, Any]) -> bool:
            return source["name"].lower().startswith(prefix) and (
                active is None or str(source.get("active", True)).lower() == active.lower()
            )

        return 200, listing(store, SOURCES, request.url.path, request.query_params, keep)

    @api
    async def create_source(request: Request) -> Any:
        with store.transaction():
            source = _checked_source(store, await json_body(request), new_id())
            store.put_source(source)
        return 200, source

    @api
    async def get_source(request: Request) -> Any:
        source = store.source(request.path_params["externalSourceId"])
        if source is None:
            raise not_found(f"External source {request.path_params['externalSourceId']}")
        return 200, source

    @api
    async def update_source(request: Request) -> Any:
        source_id = request.path_params["externalSourceId"]
        with store.transaction():
            if store.source(source_id) is None:
                raise not_found(f"External source {source_id}")
            source = _checked_source(store, await json_body(request), source_id)
            store.put_source(source)
        return 200, source

    @api
    async def delete_source(request: Request) -> Any:
        source_id = request.path_params["externalSourceId"]
        if not store.delete(SOURCES, source_id):
            raise not_found(f"External source {source_id}")
        return Response(status_code=204)

    @api
    async def divisions(request: Request) -> Any:
        names = request.query_params.getlist("name")
        entities = [_division_view(d) for d in store.divisions() if not names or d["name"] in names]
        page = {"pageSize": 25, "pageNumber": 1, "total": len(entities), "pageCount": 1}
        return 200, {"entities": entities, **page}

    @api
    async def home_division(request: Request) -> Any:
        return 200, _division_view(store.division(None))

    ec = API
    routes = [
        Route("/oauth/token", token, methods=["POST"]),
        Route(f"{DIVISIONS_URI}/home", home_division, methods=["GET"]),
        Route(DIVISIONS_URI, divisions, methods=["GET"]),
        Route(f"{ec}/contacts/enrich", enrich_one(CONTACT), methods=["POST"]),
        Route(f"{ec}/organizations/enrich", enrich_one(ORGANIZATION), methods=["POST"]),
        Route(f"{ec}/bulk/contacts/enrich", enrich_bulk(CONTACT), methods=["POST"]),
        Route(f"{ec}/bulk/organizations/enrich", enrich_bulk(ORGANIZATION), methods=["POST"]),
        Route(f"{ec}/scan/contacts", scan(CONTACT), methods=["GET"]),
        Route(f"{ec}/scan/organizations", scan(ORGANIZATION), methods=["GET"]),
        Route(f"{ec}/identifierlookup/contacts", lookup(CONTACT), methods=["POST"]),
        Route(f"{ec}/identifierlookup/organizations", lookup(ORGANIZATION), methods=["POST"]),
        Route(f"{ec}/contacts/merge", merge, methods=["POST"]),
        Route(f"{ec}/contacts/schemas", schemas(CONTACT), methods=["GET"]),
        Route(f"{ec}/organizations/schemas", schemas(ORGANIZATION), methods=["GET"]),
        Route(f"{ec}/contacts/schemas/{{schemaId}}", schema(CONTACT), methods=["GET"]),
        Route(f"{ec}/organizations/schemas/{{schemaId}}", schema(ORGANIZATION), methods=["GET"]),
        Route(f"{ec}/contacts/{{contactId}}", get_record(CONTACT), methods=["GET"]),
        Route(f"{ec}/contacts/{{contactId}}", delete_record(CONTACT), methods=["DELETE"]),
        Route(f"{ec}/organizations/{{externalOrganizationId}}", get_record(ORGANIZATION), methods=["GET"]),
        Route(
            f"{ec}/organizations/{{externalOrganizationId}}", delete_record(ORGANIZATION), methods=["DELETE"]
        ),
        Route(f"{ec}/externalsources", list_sources, methods=["GET"]),
        Route(f"{ec}/externalsources", create_source, methods=["POST"]),
        Route(f"{ec}/externalsources/{{externalSourceId}}", get_source, methods=["GET"]),
        Route(f"{ec}/externalsources/{{externalSourceId}}", update_source, methods=["PUT"]),
        Route(f"{ec}/externalsources/{{externalSourceId}}", delete_source, methods=["DELETE"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: NOT_FOUND, 405: "method.not.allowed"}.get(status, BAD_REQUEST)
        message = f"{request.method} {request.url.path}: {getattr(exc, 'detail', 'error')}"
        return JSONResponse(error_body(status, code, message), status_code=status)

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    return Gate(app, routes, state)


def _checked_source(store: Store, body: Any, source_id: str) -> dict[str, Any]:
    problems = Problems()
    if not isinstance(body, dict):
        raise bad_request("The body must be an ExternalSource {name, active, linkConfiguration}")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= SOURCE_NAME_MAX:
        problems.add("name", name, f"is required, 1 to {SOURCE_NAME_MAX} characters")
    active = body.get("active", True)
    if not isinstance(active, bool):
        problems.add("active", active, "must be true or false")
    link = body.get("linkConfiguration")
    template = link.get("uriTemplate") if isinstance(link, dict) else None
    if link is not None and not (isinstance(template, str) and len(template) <= URI_TEMPLATE_MAX):
        problems.add("linkConfiguration.uriTemplate", template, f"must be text of at most {URI_TEMPLATE_MAX}")
    problems.raise_if_any()
    taken = [s for s in store.all(SOURCES) if s["name"].lower() == name.lower() and s["id"] != source_id]
    if taken:
        raise EntityError(
            409, NAME_CONFLICT, f"An external source named {name!r} already exists ({taken[0]['id']})"
        )
    source: dict[str, Any] = {"id": source_id, "name": name, "active": active}
    if link is not None:
        source["linkConfiguration"] = {"uriTemplate": template}
    source["selfUri"] = f"{API}/externalsources/{source_id}"
    return source


def _schema_view(kind: Kind, schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "selfUri": SCHEMA_URI.format(collection=kind.collection, id=schema["id"])}


def _division_view(division: dict[str, Any] | None) -> dict[str, Any]:
    assert division is not None
    return {**division, "selfUri": f"{DIVISIONS_URI}/{division['id']}"}
