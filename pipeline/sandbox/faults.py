"""Fault injection and latency, reproducible from a seed.

Each API request draws its fate from a random generator seeded with (seed, a digest of the request's
method, path, query and body, how many times that same request was seen before). The same client doing
the same work therefore meets the same faults run after run, however its requests interleave, and a
retried request draws again (so retries eventually get through).

With probability ``fault_rate`` a request meets one fault among the kinds enabled and applicable:

- ``server_error``: 500, 502, 503 or 504 with the standard error body; nothing is applied;
- ``entity_errors`` (bulk enrich only): 200, but some operations carry a ``retryable: true`` error and
  were not applied;
- ``drop_after_write`` (writes only): the write is applied, then the connection is dropped in the middle
  of the response, so the client sees a transport error and cannot know the write happened.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from dataclasses import dataclass

from pipeline.sandbox.config import FAULT_KINDS

SERVER_ERRORS = (
    (500, "internal.server.error", "The server encountered an unexpected condition."),
    (502, "bad.gateway", "Bad gateway."),
    (503, "service.unavailable", "The service is currently unavailable."),
    (504, "gateway.timeout", "The gateway timed out."),
)


@dataclass(frozen=True)
class Fault:
    kind: str
    rng: random.Random
    status: int = 0
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class Plan:
    delay_s: float
    fault: Fault | None


class FaultInjector:
    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: tuple[str, ...] = FAULT_KINDS,
        latency_ms: int = 0,
        jitter_ms: int = 0,
    ) -> None:
        self.seed = seed
        self.rate = rate
        self.kinds = tuple(kinds)
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def configure(self, **settings: object) -> None:
        """Change ``rate``, ``kinds``, ``latency_ms`` or ``jitter_ms`` while running."""
        with self._lock:
            for name, value in settings.items():
                if value is not None:
                    setattr(self, name, tuple(value) if name == "kinds" else value)  # type: ignore[arg-type]

    def plan(self, method: str, path: str, query: str, body: bytes, *, bulk: bool, write: bool) -> Plan:
        """The delay and the fault (if any) for one request."""
        digest = hashlib.sha256(
            b"\0".join((method.encode(), path.encode(), query.encode(), body))
        ).hexdigest()
        with self._lock:
            occurrence = self._seen[digest]
            self._seen[digest] += 1
            rate, kinds = self.rate, self.kinds
            latency_ms, jitter_ms = self.latency_ms, self.jitter_ms
        if rate <= 0 and not jitter_ms:
            # Nothing to draw: seeding a generator per request cost more than the rest of the gate.
            return Plan(latency_ms / 1000, None)
        rng = random.Random(f"{self.seed}|{digest}|{occurrence}")
        delay_s = (latency_ms + rng.uniform(0, jitter_ms)) / 1000
        if rng.random() >= rate:
            return Plan(delay_s, None)
        applicable = [
            kind
            for kind in kinds
            if kind == "server_error"
            or (kind == "entity_errors" and bulk)
            or (kind == "drop_after_write" and write)
        ]
        if not applicable:
            return Plan(delay_s, None)
        kind = rng.choice(applicable)
        if kind == "server_error":
            status, code, message = rng.choice(SERVER_ERRORS)
            return Plan(delay_s, Fault(kind, rng, status, code, message))
        return Plan(delay_s, Fault(kind, rng))


def failing_indexes(rng: random.Random, n: int) -> set[int]:
    """Which of ``n`` bulk operations an ``entity_errors`` fault fails: each with even odds, at least one."""
    if n == 0:
        return set()
    chosen = {i for i in range(n) if rng.random() < 0.5}
    return chosen or {rng.randrange(n)}
