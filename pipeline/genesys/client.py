"""The one HTTP client a run uses to talk to Genesys Cloud External Contacts.

Its typed endpoint helpers (``bulk_enrich``, ``scan``, ``lookup_identifier``...) come from
:class:`~pipeline.genesys.endpoints.Endpoints`; this module is the machinery they all go through.

:meth:`GenesysClient.request` is the core every call goes through, in this order:

1. the shared :class:`~pipeline.genesys.ratelimit.RateLimiter` (the client-wide budget, paced evenly over
   its window under a sliding-window cap, and any pause a 429 imposed on every task; :meth:`waiting_s` says
   how long requests are held back, for progress displays);
2. a bearer token from :class:`~pipeline.genesys.auth.TokenProvider`; a 401 drops it and the request is
   sent once more with a fresh one;
3. the response: 2xx is returned; 429 pauses the whole client for ``Retry-After`` (backoff with jitter
   when absent) and retries; 5xx, timeouts and connection errors are retried with tenacity up to
   ``max_attempts``, then raised as :class:`~pipeline.errors.TransientApiError`; any other 4xx is a
   :class:`~pipeline.errors.TerminalApiError` carrying the status and the Genesys ``code`` and ``message``.

A POST that may have reached the server (a timeout or a dropped connection after sending, or a 5xx) is
replayed only when the caller says a replay is harmless (``retry_unsafe=True``). Bulk enrich says so when
every operation matches on an ExternalId identifier first: the replay then finds the record the first
attempt created and updates it, so a retry can never create a second record.

Nothing here logs tokens, secrets, headers or bodies (bodies hold personal data): only method, path,
status and attempt counts.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
import orjson
from tenacity import RetryCallState

import pipeline
from pipeline.errors import ApiError, AuthError, ConfigError, TerminalApiError, TransientApiError
from pipeline.genesys.auth import TokenProvider, transport_problem
from pipeline.genesys.endpoints import Endpoints, QueryParams
from pipeline.genesys.lanes import Lanes, environment_proxies
from pipeline.genesys.ratelimit import Clock, RateLimiter, Sleep, active_watch
from pipeline.genesys.retrying import (
    AttemptBudget,
    RetrySignal,
    certificate_problem,
    error_fields,
    may_have_been_sent,
    parse_retry_after,
    throttle_backoff,
)
from pipeline.genesys.settings import ClientSettings

log = logging.getLogger("pipeline.genesys")

# Methods whose replay has the same effect as one call (RFC 9110), so they are always retried.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# The server counts arrivals, we count sends: a 1 % longer window absorbs differences in network latency
# between two requests a window apart, which would otherwise put the 301st arrival inside the window.
RATE_WINDOW_SLACK = 0.01
MAX_CACHED_URLS = 64
USER_AGENT = f"contacts-pipeline/{pipeline.__version__}"


@dataclass
class ClientStats:
    """Counters for the run summary; ``token_refreshes`` counts every token fetched, the first included."""

    requests_sent: int = 0
    throttled: int = 0
    retries: int = 0
    token_refreshes: int = 0


class GenesysClient(Endpoints):
    """Async context manager owning one pooled ``httpx.AsyncClient``; share one instance across tasks.

    ``transport`` lets tests substitute ``httpx.MockTransport``; ``clock`` and ``sleep`` let them run
    rate limiting and backoff on fake time.
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.stats = ClientStats()
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self.limiter = RateLimiter(
            settings.rate_limit_per_minute,
            settings.rate_window_s * (1 + RATE_WINDOW_SLACK),
            clock=clock,
            sleep=sleep,
        )
        if (watch := active_watch()) is not None:
            watch.add(self.limiter)
        self._http: httpx.AsyncClient | None = None  # token requests, and every request over a test transport
        self._lanes: Lanes | None = None  # API requests over the network (lanes.py says why)
        # Parsed once per path: httpx parses a URL string (and re-parses it to merge even empty params)
        # on every request, a tenth of the client's CPU per bulk request.
        self._urls: dict[str, httpx.URL] = {}
        self._tokens: TokenProvider | None = None

    def waiting_s(self) -> float:
        """Seconds until requests move again after the rate budget or a 429 held them back (0: moving)."""
        return self.limiter.waiting_s()

    def __repr__(self) -> str:
        return f"GenesysClient(api={self.settings.api_base_url!r}, client_id={self.settings.client_id!r})"

    async def __aenter__(self) -> Self:
        s = self.settings
        try:
            # One TLS context for all: each client loading the CA bundle again would cost ~20 ms per lane.
            verify = (
                True if self._transport is not None else httpx.create_ssl_context(trust_env=not s.is_loopback)
            )
            # Lanes (lanes.py) unless a test transport or an environment proxy needs the whole client.
            lanes = self._transport is None and (s.is_loopback or not environment_proxies())
            self._http = self._open_http(1 if lanes else s.max_connections, verify)
            if lanes:
                self._lanes = Lanes(
                    s.max_connections, verify=verify, timeout=s.timeout, headers={"User-Agent": USER_AGENT}
                )
        except (ssl.SSLError, OSError) as exc:
            # httpx reads SSL_CERT_FILE / SSL_CERT_DIR (for non-loopback hosts): a wrong path there must be
            # a clear configuration error, not a traceback. Verification itself never depends on them.
            raise ConfigError(
                f"cannot load the CA certificates named by SSL_CERT_FILE / SSL_CERT_DIR "
                f"({type(exc).__name__}: {exc}); fix or unset them"
            ) from None
        self._tokens = TokenProvider(
            s, self._http, clock=self._clock, sleep=self._sleep, on_fetch=self._count_token
        )
        return self

    def _open_http(self, connections: int, verify: ssl.SSLContext | bool) -> httpx.AsyncClient:
        s = self.settings
        return httpx.AsyncClient(
            timeout=s.timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            verify=verify,
            transport=self._transport,
            follow_redirects=False,
            # Proxy variables must not divert loopback traffic (the sandbox) to a proxy.
            trust_env=not s.is_loopback,
            headers={"User-Agent": USER_AGENT},
        )

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._lanes is not None:
            await self._lanes.aclose()
        self._http = self._tokens = self._lanes = None
        # A closed connection lets go of its socket on the event loop's next turn. A run ended by Ctrl-C
        # gets no more turns once this task is done, and its sockets were left to the garbage collector.
        await asyncio.sleep(0)

    # -- the core ------------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        retry_unsafe: bool = False,
    ) -> httpx.Response:
        """Send ``method path`` (a path under the API host) with limiting, auth and retries; see module doc.

        ``retry_unsafe=True`` declares that replaying this non-idempotent call is harmless.
        """
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS or retry_unsafe
        s = self.settings
        budget = AttemptBudget(s.max_attempts, s.max_throttled_attempts, s.backoff_base_s, s.backoff_max_s)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            async for attempt in budget.retrying(self._sleep, self._before_retry):
                with attempt:
                    return await self._attempt(method, path, query, json, idempotent, budget)
        except RetrySignal as signal:
            raise budget.gave_up(signal) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any],
        body: Any,
        idempotent: bool,
        budget: AttemptBudget,
    ) -> httpx.Response:
        http, tokens = self._open()
        url = self._url(path)
        # orjson: the same bytes httpx's json.dumps would send (compact, UTF-8), several times faster.
        content = None if body is None else orjson.dumps(body)
        for _ in range(2):  # a second pass only after a 401, with a fresh token
            # The slot first, then the token: a token fetched before a long wait for the rate budget
            # could be revoked or expire while it waits.
            await self.limiter.acquire()
            token = await tokens.token()
            self.stats.requests_sent += 1
            headers = {"Authorization": f"Bearer {token}"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            try:
                if self._lanes is not None:
                    response = await self._lanes.send(
                        method, url, params=query or None, content=content, headers=headers
                    )
                else:
                    response = await http.request(
                        method, url, params=query or None, content=content, headers=headers
                    )
            except httpx.TransportError as exc:
                raise self._transport_failure(exc, method, path, idempotent, budget) from None
            log.debug("%s %s -> %d", method, path, response.status_code)
            if response.status_code != 401:
                return self._check(response, method, path, idempotent, budget)
            log.info("%s %s -> 401: fetching a new token and sending once more", method, path)
            tokens.invalidate(token)
        raise AuthError(
            f"the API refused a freshly issued token for client id {self.settings.client_id!r} "
            f"({method} {path} -> 401)"
        )

    def _check(
        self, response: httpx.Response, method: str, path: str, idempotent: bool, budget: AttemptBudget
    ) -> httpx.Response:
        status = response.status_code
        if 200 <= status < 300:
            return response
        code, message = error_fields(response)
        where = f"{method} {path} -> {status}"
        if status == 429:
            self.stats.throttled += 1
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            pause = (
                retry_after
                if retry_after is not None
                else throttle_backoff(
                    budget.throttles + 1, self.settings.backoff_base_s, self.settings.backoff_max_s
                )
            )
            # Every task waits, not just this one: the budget is the client's, not the task's.
            self.limiter.pause_for(pause)
            log.warning("%s: rate limited, pausing all requests for %.1f s", where, pause)
            error = TransientApiError(
                f"{where}: rate limited",
                retry_after=retry_after,
                status=status,
                code=code,
                method=method,
                url=path,
            )
            raise budget.signal(error, throttled=True, wait_s=0.0)
        if status >= 500:
            budget.lost_answer = True
            error = TransientApiError(
                f"{where}: {message}", status=status, code=code, method=method, url=path
            )
            if not idempotent:
                raise TransientApiError(
                    f"{error}; not retried: the server may have applied it and a replay is not known safe",
                    status=status,
                    code=code,
                    method=method,
                    url=path,
                )
            raise budget.signal(error)
        raise TerminalApiError(
            f"{where}: {code or 'error'}: {message}",
            status=status,
            code=code,
            method=method,
            url=path,
            after_lost_answer=budget.lost_answer,
        )

    def _transport_failure(
        self, exc: httpx.TransportError, method: str, path: str, idempotent: bool, budget: AttemptBudget
    ) -> Exception:
        url = f"{self.settings.api_base_url}{path}"
        what = f"{method} {transport_problem(exc, url, loopback=self.settings.is_loopback)}"
        if (reason := certificate_problem(exc)) is not None:
            host = httpx.URL(self.settings.api_base_url).host
            return ApiError(
                f"{method} {path}: the TLS certificate of {host} was refused ({reason})",
                method=method,
                url=path,
            )
        if may_have_been_sent(exc):
            budget.lost_answer = True
        if may_have_been_sent(exc) and not idempotent:
            return TransientApiError(
                f"{what}, after the request was sent; not retried: a replay is not known to be safe",
                method=method,
                url=path,
            )
        return budget.signal(TransientApiError(what, method=method, url=path))

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(f"{self.settings.api_base_url}{path}")
            # Only the few fixed paths (bulk, scans, lookups) repeat: paths with a record id are not kept.
            if len(self._urls) < MAX_CACHED_URLS:
                self._urls[path] = url
        return url

    def _before_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        log.info("retrying (attempt %d): %s", state.attempt_number + 1, exc)

    def _count_token(self) -> None:
        self.stats.token_refreshes += 1

    def _open(self) -> tuple[httpx.AsyncClient, TokenProvider]:
        if self._http is None or self._tokens is None:
            raise RuntimeError("use GenesysClient as `async with GenesysClient(settings) as client:`")
        return self._http, self._tokens
