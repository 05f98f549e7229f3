"""External sources (list, create, read, replace, delete) and the custom-field schemas (read only)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.sandbox.handlers import Handler, Reply, api, json_body, new_id
from pipeline.sandbox.paging import listing
from pipeline.sandbox.problems import NAME_CONFLICT, EntityError, Problems, bad_request, not_found
from pipeline.sandbox.records import API, CONTACT, ORGANIZATION, Kind
from pipeline.sandbox.schemas import SCHEMA_URI
from pipeline.sandbox.state import SandboxState
from pipeline.sandbox.store import SOURCES, Store

SOURCE_NAME_MAX = 200
URI_TEMPLATE_MAX = 400  # LinkConfiguration.uriTemplate in the API reference


def schema_routes(state: SandboxState) -> list[Route]:
    store = state.store
    return [
        Route(f"{API}/contacts/schemas", schemas(store, CONTACT), methods=["GET"]),
        Route(f"{API}/organizations/schemas", schemas(store, ORGANIZATION), methods=["GET"]),
        Route(f"{API}/contacts/schemas/{{schemaId}}", schema(store, CONTACT), methods=["GET"]),
        Route(f"{API}/organizations/schemas/{{schemaId}}", schema(store, ORGANIZATION), methods=["GET"]),
    ]


def source_routes(state: SandboxState) -> list[Route]:
    store, one = state.store, f"{API}/externalsources/{{externalSourceId}}"
    return [
        Route(f"{API}/externalsources", list_sources(store), methods=["GET"]),
        Route(f"{API}/externalsources", create_source(store), methods=["POST"]),
        Route(one, get_source(store), methods=["GET"]),
        Route(one, update_source(store), methods=["PUT"]),
        Route(one, delete_source(store), methods=["DELETE"]),
    ]


def schemas(store: Store, kind: Kind) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        entities = [_schema_view(kind, s) for s in store.schemas(kind.name)]
        return 200, {"total": len(entities), "entities": entities, "selfUri": request.url.path}

    return handler


def schema(store: Store, kind: Kind) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        found = store.schema(request.path_params["schemaId"])
        if found is None or found not in store.schemas(kind.name):
            raise not_found(f"Schema {request.path_params['schemaId']}")
        return 200, _schema_view(kind, found)

    return handler


def list_sources(store: Store) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        prefix = request.query_params.get("name", "").lower()
        active = request.query_params.get("active")

        def keep(source: dict[str, Any]) -> bool:
            return source["name"].lower().startswith(prefix) and (
                active is None or str(source.get("active", True)).lower() == active.lower()
            )

        return 200, listing(store, SOURCES, request.url.path, request.query_params, keep)

    return handler


def create_source(store: Store) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        with store.transaction():
            source = _checked_source(store, await json_body(request), new_id())
            store.put_source(source)
        return 200, source

    return handler


def get_source(store: Store) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        source = store.source(request.path_params["externalSourceId"])
        if source is None:
            raise not_found(f"External source {request.path_params['externalSourceId']}")
        return 200, source

    return handler


def update_source(store: Store) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        source_id = request.path_params["externalSourceId"]
        with store.transaction():
            if store.source(source_id) is None:
                raise not_found(f"External source {source_id}")
            source = _checked_source(store, await json_body(request), source_id)
            store.put_source(source)
        return 200, source

    return handler


def delete_source(store: Store) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        source_id = request.path_params["externalSourceId"]
        if not store.delete(SOURCES, source_id):
            raise not_found(f"External source {source_id}")
        return Response(status_code=204)

    return handler


def _checked_source(store: Store, body: object, source_id: str) -> dict[str, Any]:
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
    assert isinstance(name, str)  # raise_if_any refused anything else
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
