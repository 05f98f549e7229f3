"""What every route handler shares: rendering ``(status, body)`` or an :class:`EntityError` as JSON,
reading the body, ``?dryRun``, and the clock and id source handed to the pure core."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipeline.sandbox.problems import EntityError, bad_request

Handler = Callable[[Request], Awaitable[Response]]
Reply = Response | tuple[int, object]
"""What an ``@api`` handler returns: a ready response, or a status and a JSON-able body."""


def api(handler: Callable[[Request], Awaitable[Reply]]) -> Handler:
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


async def json_body(request: Request) -> Any:  # parsed JSON: callers check its shape
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as err:
        raise bad_request("The request body is not valid JSON") from err


def dry_run(request: Request) -> bool:
    return request.query_params.get("dryRun", "false").lower() == "true"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id() -> str:
    return str(uuid.uuid4())
