"""The sandbox's ASGI application: the routes of :mod:`.routes` behind the :class:`~.gate.Gate`.

Handlers are thin: they read the request, call the pure core (:mod:`.enrich`, :mod:`.bulk`) against the
:class:`~.store.Store`, and render the result or the standard error body.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from pipeline.sandbox.gate import Gate
from pipeline.sandbox.problems import BAD_REQUEST, NOT_FOUND, error_body
from pipeline.sandbox.routes import admin, enrich, identifiers, merge, reads, sources
from pipeline.sandbox.state import SandboxState


def create_app(state: SandboxState) -> ASGIApp:
    """The ASGI application of one sandbox."""
    # Starlette takes the first route that matches, so the fixed ``/contacts/schemas`` and
    # ``/contacts/merge`` paths must come before ``/contacts/{contactId}`` (in ``reads``).
    routes: list[Route] = [
        *admin.routes(state),
        *enrich.routes(state),
        *merge.routes(state),
        *sources.schema_routes(state),
        *identifiers.routes(state),
        *reads.routes(state),
        *sources.source_routes(state),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    return Gate(app, routes, state)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 in the API's standard error body."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: NOT_FOUND, 405: "method.not.allowed"}.get(status, BAD_REQUEST)
    message = f"{request.method} {request.url.path}: {getattr(exc, 'detail', 'error')}"
    return JSONResponse(error_body(status, code, message), status_code=status)
