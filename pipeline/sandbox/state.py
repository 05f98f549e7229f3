"""What one running sandbox holds: settings, store, tokens, rate limiter, fault injector and counters.

Kept apart from the routes and the gate so that both can depend on it without depending on each other.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from pipeline.sandbox.auth import TokenIssuer
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.faults import FaultInjector
from pipeline.sandbox.ratelimit import RateLimiter
from pipeline.sandbox.store import Store


@dataclass(frozen=True)
class SandboxStats:
    """A snapshot of the counters: requests by ``"METHOD /route"``, refusals, faults by kind, and how many
    client connections (distinct client address and port) sent requests."""

    requests: dict[str, int]
    rate_limited: int
    unauthorized: int
    faults: dict[str, int]
    connections: int = 0

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


@dataclass
class Stats:
    """The live counters; uvicorn's loop and the test thread read and write them concurrently."""

    requests: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    peers: set[object] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_request(self, route: str, peer: object = None) -> None:
        with self.lock:
            self.requests[route] += 1
            if peer is not None:
                self.peers.add(peer)

    def count(self, refusal: str) -> None:
        with self.lock:
            self.refusals[refusal] += 1

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def snapshot(self) -> SandboxStats:
        with self.lock:
            return SandboxStats(
                dict(self.requests),
                self.refusals["rate_limited"],
                self.refusals["unauthorized"],
                dict(self.faults),
                len(self.peers),
            )


class SandboxState:
    """Everything a running sandbox holds: settings, store, tokens, limiter, faults, counters."""

    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.tokens = TokenIssuer(config.client_id, config.client_secret, config.token_lifetime)
        self.limiter = RateLimiter(config.rate_limit, config.rate_window_s)
        self.faults = FaultInjector(
            config.seed, config.fault_rate, config.fault_kinds, config.latency_ms, config.latency_jitter_ms
        )
        self.stats = Stats()
        self.rng = random.Random(config.seed)  # result shuffling
