"""OAuth client credentials: one bearer token per client, reused until shortly before it expires.

Genesys issues no refresh token; a new one is simply requested again. Many tasks may find the token
expired at once, so fetching is single-flight: the first task fetches under a lock and the rest reuse what
it got. The token is held as a :class:`~pipeline.genesys.secret.Secret` so it cannot reach a repr or a log.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from pipeline.errors import ApiError, AuthError, TransientApiError
from pipeline.genesys.ratelimit import Clock, Sleep
from pipeline.genesys.retrying import AttemptBudget, RetrySignal, certificate_problem, parse_retry_after
from pipeline.genesys.secret import Secret
from pipeline.genesys.settings import ClientSettings

log = logging.getLogger("pipeline.genesys")

TOKEN_PATH = "/oauth/token"


@dataclass(frozen=True)
class Token:
    value: Secret
    expires_at: float  # clock time after which the token is no longer used


class TokenProvider:
    """Hands out a valid bearer token; :meth:`invalidate` after a 401 forces the next call to fetch anew."""

    def __init__(
        self,
        settings: ClientSettings,
        http: httpx.AsyncClient,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_fetch: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self._on_fetch = on_fetch
        self._token: Token | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TokenProvider(client_id={self._settings.client_id!r})"

    async def token(self) -> str:
        """The current token, fetching a new one first if there is none or it is about to expire."""
        current = self._token
        if current is not None and self._clock() < current.expires_at:
            return current.value.reveal()
        async with self._lock:
            # Another task may have fetched while this one waited for the lock.
            current = self._token
            if current is None or self._clock() >= current.expires_at:
                current = self._token = await self._fetch()
            return current.value.reveal()

    def invalidate(self, rejected: str | None = None) -> None:
        """Drop the cached token; with ``rejected``, only if it is still that token.

        Passing the token a 401 came back for means that when many tasks see a 401 at once, the first
        drops it, one fetch happens, and the rest keep the fresh token instead of dropping it again.
        """
        current = self._token
        if current is not None and (rejected is None or current.value.reveal() == rejected):
            self._token = None

    async def _fetch(self) -> Token:
        s = self._settings
        budget = AttemptBudget(s.max_attempts, s.max_throttled_attempts, s.backoff_base_s, s.backoff_max_s)
        try:
            async for attempt in budget.retrying(self._sleep):
                with attempt:
                    return await self._fetch_once(budget)
        except RetrySignal as signal:
            raise budget.gave_up(signal) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _fetch_once(self, budget: AttemptBudget) -> Token:
        s = self._settings
        url = f"{s.login_base_url}{TOKEN_PATH}"
        if self._on_fetch is not None:
            self._on_fetch()
        try:
            response = await self._http.post(
                url,
                data={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(s.client_id, s.client_secret.reveal()),
            )
        except httpx.TransportError as exc:
            if (reason := certificate_problem(exc)) is not None:
                raise ApiError(
                    f"the TLS certificate of {httpx.URL(url).host} was refused ({reason}); nothing was sent",
                    method="POST",
                    url=TOKEN_PATH,
                ) from None
            # Asking for a token twice is harmless, so even a request that may have arrived is retried.
            problem = transport_problem(exc, url, loopback=s.is_loopback)
            raise budget.signal(_transient(f"cannot get a token from {problem}")) from None
        status = response.status_code
        if status in (400, 401, 403):
            raise AuthError(
                f"the login service refused the client credentials for client id {s.client_id!r} "
                f"(HTTP {status}): check GENESYS_CLIENT_ID / GENESYS_CLIENT_SECRET and the region"
            )
        if status == 429 or status >= 500:
            wait_s = parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
            raise budget.signal(
                _transient(f"token request failed: HTTP {status}", status=status),
                throttled=status == 429,
                wait_s=wait_s,
            )
        if status != 200:
            raise AuthError(f"unexpected HTTP {status} from the login service for client id {s.client_id!r}")
        return self._parse(response)

    def _parse(self, response: httpx.Response) -> Token:
        try:
            body = response.json()
            value = body["access_token"]
            expires_in = float(body.get("expires_in", 0))
        except (ValueError, KeyError, TypeError):
            raise AuthError("the login service answered without an access token") from None
        if not isinstance(value, str) or not value:
            raise AuthError("the login service answered without an access token")
        # A token living less than twice the margin would be refreshed before every request: cap the margin.
        margin = min(self._settings.token_refresh_margin_s, expires_in / 2)
        log.info("obtained an access token valid for %.0f s", expires_in)
        return Token(Secret(value), self._clock() + expires_in - margin)


def _transient(message: str, *, status: int | None = None) -> TransientApiError:
    return TransientApiError(message, status=status, method="POST", url=TOKEN_PATH)


def _cause_of(exc: BaseException) -> str:
    """What went wrong under an httpx transport error, in words: refused, DNS, TLS, timeout, dropped."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed ({cause.strerror or cause})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({getattr(cause, 'reason', None) or cause})"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "DNS lookup failed"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or type(exc).__name__})"
    return f"the connection failed ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"


def transport_problem(exc: httpx.TransportError, url: str, *, loopback: bool) -> str:
    """One line naming the URL and the cause, and for a connection that could not be made what to check."""
    problem = f"{url}: {_cause_of(exc)}"
    if not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return problem  # connected, then lost: the address is right
    hint = (
        "is the sandbox running? check --base-url"
        if loopback
        else "check the network, --region / --base-url (GENESYS_REGION) and any proxy settings"
    )
    return f"{problem}; {hint}"
