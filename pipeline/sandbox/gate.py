"""What stands in front of every API call: counting, bearer token, rate limit, latency and faults.

An ASGI middleware rather than a Starlette one, because dropping a connection in the middle of a response
needs the raw ``send``.
"""

from __future__ import annotations

import asyncio
import math

from starlette.datastructures import Headers
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.sandbox.auth import bearer_token
from pipeline.sandbox.faults import Fault
from pipeline.sandbox.handlers import FastJSONResponse
from pipeline.sandbox.problems import BAD_CREDENTIALS, TOO_MANY_REQUESTS, error_body
from pipeline.sandbox.state import SandboxState

API_PREFIX = "/api/v2/"
FAULT_SCOPE_KEY = "sandbox_fault"  # where a bulk handler finds an ``entity_errors`` fault
DROP_MESSAGE = "ASGI callable returned without completing response."  # what uvicorn logs on a drop
# Request lines whose route template is remembered: the fixed paths (bulk, scans, lookups) repeat, paths
# with a record id mostly do not, so the memory stops growing here.
MAX_TEMPLATES = 256


class Gate:
    def __init__(self, app: ASGIApp, routes: list[Route], state: SandboxState) -> None:
        self.app = app
        self.routes = routes
        self.state = state
        self._templates: dict[tuple[str, str], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        client = scope.get("client")
        state.stats.count_request(
            f"{scope['method']} {self._template(scope)}", tuple(client) if client else None
        )
        if not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        token = bearer_token(Headers(scope=scope).get("authorization"))
        if not state.tokens.valid(token):
            state.stats.count("unauthorized")
            body = error_body(401, BAD_CREDENTIALS, "Invalid login credentials.")
            await send_json(send, 401, body)
            return
        wait = state.limiter.acquire(token)  # type: ignore[arg-type]
        if wait is not None:
            state.stats.count("rate_limited")
            retry_after = max(1, math.ceil(wait))
            message = f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"
            body = error_body(429, TOO_MANY_REQUESTS, message)
            await send_json(send, 429, body, {"Retry-After": str(retry_after)})
            return
        body_bytes = await read_body(receive)
        path, method = scope["path"], scope["method"]
        plan = state.faults.plan(
            method,
            path,
            scope.get("query_string", b"").decode("latin-1"),
            body_bytes,
            bulk="/bulk/" in path,
            write=method != "GET" and "/identifierlookup/" not in path,
        )
        if plan.delay_s > 0:
            await asyncio.sleep(plan.delay_s)
        fault = plan.fault
        replay = _replay(body_bytes, receive)
        if fault is None:
            await self.app(scope, replay, send)
            return
        state.stats.count_fault(fault.kind)
        if fault.kind == "server_error":
            await send_json(send, fault.status, error_body(fault.status, fault.code, fault.message))
        elif fault.kind == "entity_errors":
            scope.setdefault("state", {})[FAULT_SCOPE_KEY] = fault
            await self.app(scope, replay, send)
        else:
            await _drop_after_write(self.app, scope, replay, send, fault)

    def _template(self, scope: Scope) -> str:
        # Matching every route's regex for the statistics cost more than routing the request itself.
        line = (scope["method"], scope["path"])
        template = self._templates.get(line)
        if template is None:
            template = next(
                (route.path for route in self.routes if route.matches(scope)[0] is Match.FULL), scope["path"]
            )
            if len(self._templates) < MAX_TEMPLATES:
                self._templates[line] = template
        return template


async def _drop_after_write(app: ASGIApp, scope: Scope, receive: Receive, send: Send, fault: Fault) -> None:
    """Let the handler apply the write, then send the headers and part of the body, and hang up."""
    messages: list[Message] = []

    async def capture(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, capture)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    await send(start)
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    # Returning without finishing the response makes the server close the connection.


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive | None = None) -> Receive:
    """A ``receive`` that gives the already-read body once, then defers to ``then``."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then() if then else {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def send_json(send: Send, status: int, body: object, headers: dict[str, str] | None = None) -> None:
    response = FastJSONResponse(body, status_code=status, headers=headers)
    await response({"type": "http"}, _replay(b""), send)
