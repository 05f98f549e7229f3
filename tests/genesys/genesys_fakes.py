"""Fakes for the client tests: a scripted Genesys behind ``httpx.MockTransport`` and a fake clock."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from pipeline.genesys import ClientSettings, Secret

CLIENT_ID = "test-client"
# Distinctive strings that the leak tests grep for: they must never appear in logs, reprs or errors.
CLIENT_SECRET = "s3cret-ZXQJ-never-print"
TOKEN_PREFIX = "tok-VWKP-"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """Monotonic fake time: ``sleep`` advances it at once and records the duration."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


@dataclass
class Sent:
    method: str
    path: str
    time: float
    request: httpx.Request


@dataclass
class FakeGenesys:
    """Login and API in one handler. Unscripted API calls answer 200 ``{}``; scripted ones pop in order."""

    clock: FakeClock
    token_lifetime: int = 86400
    accept_credentials: bool = True
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    token_requests: list[httpx.Request] = field(default_factory=list)
    script: dict[tuple[str, str], deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.script[(method, path)].extend(replies)

    def revoke_tokens(self) -> None:
        self.valid_tokens.clear()

    def api_sent(self) -> list[Sent]:
        return [s for s in self.sent if s.path != "/oauth/token"]

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.sent.append(Sent(request.method, path, self.clock(), request))
        if path == "/oauth/token":
            return self._token(request)
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid_tokens:
            return httpx.Response(
                401, json={"code": "authentication.required", "message": "no", "status": 401}
            )
        queue = self.script.get((request.method, path))
        if not queue:
            return httpx.Response(200, json={})
        reply = queue.popleft()
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if not self.accept_credentials or request.headers.get("Authorization") != f"Basic {expected}":
            return httpx.Response(400, json={"error": "invalid_client", "description": "client not found"})
        token = f"{TOKEN_PREFIX}{next(self._counter)}"
        self.tokens_issued += 1
        self.valid_tokens.add(token)
        return httpx.Response(
            200, json={"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}
        )


def make_settings(**overrides: Any) -> ClientSettings:
    values: dict[str, Any] = {
        "api_base_url": "https://api.test.example",
        "login_base_url": "https://login.test.example",
        "client_id": CLIENT_ID,
        "client_secret": Secret(CLIENT_SECRET),
    }
    values.update(overrides)
    return ClientSettings(**values)


def reply(status: int, body: Any = None, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    """A scripted reply that builds a fresh response each time (responses must not be shared)."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body if body is not None else {}, headers=headers)

    return respond


def dropped(exc_type: type[httpx.TransportError], message: str = "connection lost") -> Reply:
    """A scripted transport failure, raised as the transport would."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return fail


def too_many(retry_after: str | None = None) -> Callable[[httpx.Request], httpx.Response]:
    body = {"message": "Rate limit exceeded", "code": "too.many.requests.retry.after", "status": 429}
    return reply(429, body, **({"Retry-After": retry_after} if retry_after is not None else {}))
