"""Outside External Contacts: ``POST /oauth/token`` and the authorization divisions."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.sandbox.auth import TokenIssuer
from pipeline.sandbox.handlers import Handler, Reply, api
from pipeline.sandbox.records import DIVISIONS_URI
from pipeline.sandbox.state import SandboxState
from pipeline.sandbox.store import Store


def routes(state: SandboxState) -> list[Route]:
    return [
        Route("/oauth/token", token(state.tokens), methods=["POST"]),
        Route(f"{DIVISIONS_URI}/home", home_division(state.store), methods=["GET"]),
        Route(DIVISIONS_URI, divisions(state.store), methods=["GET"]),
    ]


def token(tokens: TokenIssuer) -> Handler:
    async def handler(request: Request) -> Response:
        if not tokens.check_basic(request.headers.get("authorization")):
            return _oauth_error(401, "invalid_client", "client not found")
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        return JSONResponse(tokens.issue())

    return handler


def _oauth_error(status: int, error: str, description: str) -> Response:
    # ``error_description`` is the RFC 6749 field; ``description`` stays beside it, as it always has.
    body = {"error": error, "description": description, "error_description": description}
    return JSONResponse(body, status_code=status)


def divisions(store: Store) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        names = request.query_params.getlist("name")
        entities = [_division_view(d) for d in store.divisions() if not names or d["name"] in names]
        page = {"pageSize": 25, "pageNumber": 1, "total": len(entities), "pageCount": 1}
        return 200, {"entities": entities, **page}

    return handler


def home_division(store: Store) -> Handler:
    @api
    async def handler(request: Request) -> Reply:
        return 200, _division_view(store.division(None))

    return handler


def _division_view(division: dict[str, Any] | None) -> dict[str, Any]:
    assert division is not None  # the home division always exists
    return {**division, "selfUri": f"{DIVISIONS_URI}/{division['id']}"}
