"""Retry policy shared by the token provider and the client: what is retried, how long to wait, when to stop.

Tenacity drives the loop. An attempt that failed in a retryable way raises :class:`RetrySignal` (anything
else, including a plain :class:`~pipeline.errors.TransientApiError`, propagates at once). Two budgets bound
a request: ``max_attempts`` for 5xx, timeouts and connection errors, and ``max_throttled_attempts`` for
429s, which are the server pacing us rather than failing.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from pipeline.errors import TransientApiError
from pipeline.genesys.ratelimit import Sleep
from pipeline.masking import mask_in_text

# Raised before any byte of the request left: the server cannot have acted on it, so any method may retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RetrySignal(Exception):
    """Internal: this attempt failed and may be retried; ``error`` is what the caller sees on giving up."""

    def __init__(self, error: TransientApiError, *, throttled: bool, wait_s: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.throttled = throttled
        self.wait_s = wait_s


@dataclass
class AttemptBudget:
    """Counts one request's failed attempts and turns them into tenacity's stop and wait decisions."""

    max_attempts: int
    max_throttled_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    failures: int = 0
    throttles: int = 0
    # An attempt failed after it may have reached the server (a 5xx, or a transport error after sending).
    lost_answer: bool = False

    def signal(
        self, error: TransientApiError, *, throttled: bool = False, wait_s: float | None = None
    ) -> RetrySignal:
        # Counted here, when the attempt fails, so stop and wait read the same numbers in whatever order
        # tenacity calls them.
        if throttled:
            self.throttles += 1
        else:
            self.failures += 1
        return RetrySignal(error, throttled=throttled, wait_s=wait_s)

    @property
    def attempts(self) -> int:
        return self.failures + self.throttles

    def stop(self, state: RetryCallState) -> bool:
        return self.failures >= self.max_attempts or self.throttles >= self.max_throttled_attempts

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetrySignal) and exc.wait_s is not None:
            return exc.wait_s
        return full_jitter(self.failures, self.backoff_base_s, self.backoff_max_s)

    def retrying(
        self, sleep: Sleep, before_sleep: Callable[[RetryCallState], Any] | None = None
    ) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception_type(RetrySignal),
            stop=self.stop,
            wait=self.wait,
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    def gave_up(self, signal: RetrySignal) -> TransientApiError:
        err = signal.error
        return TransientApiError(
            f"{err} (gave up after {self.attempts} attempts)",
            retry_after=err.retry_after,
            status=err.status,
            code=err.code,
            method=err.method,
            url=err.url,
        )


def full_jitter(failures: int, base_s: float, max_s: float) -> float:
    """Uniform in [0, min(max, base * 2**(failures-1))]: spreads simultaneous retriers apart."""
    ceiling = min(max_s, base_s * 2 ** max(failures - 1, 0))
    return random.uniform(0.0, ceiling)  # jitter, not cryptography: no need for secrets


def throttle_backoff(throttles: int, base_s: float, max_s: float) -> float:
    """Pause after a 429 without ``Retry-After``: half the exponential ceiling plus jitter.

    Unlike :func:`full_jitter` it never comes out near zero, since an immediate retry would hit the same
    exhausted budget.
    """
    ceiling = min(max_s, base_s * 2 ** max(throttles - 1, 0))
    return ceiling / 2 + random.uniform(0.0, ceiling / 2)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; None when absent or not a number (Genesys sends seconds)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def certificate_problem(exc: httpx.TransportError) -> str | None:
    """Why the server's TLS certificate was refused, when that is what ``exc`` is about, else None.

    A refused certificate will be refused again: it is never retried, and the message says what it was.
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or cause.reason or "certificate verify failed"
        cause = cause.__cause__ or cause.__context__
    return None


def may_have_been_sent(exc: httpx.TransportError) -> bool:
    """Whether the server may have received (and acted on) the request before the error."""
    return not isinstance(exc, _NOT_SENT)


def error_fields(response: httpx.Response) -> tuple[str | None, str]:
    """Genesys ``code`` and ``message`` from an error body, falling back to the reason phrase.

    Server messages can quote the values they reject; emails and E.164 phones in them are masked since
    the message ends up in exceptions and logs.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        return (
            str(code) if code else None,
            mask_in_text(str(message)) if message else response.reason_phrase,
        )
    return None, response.reason_phrase
