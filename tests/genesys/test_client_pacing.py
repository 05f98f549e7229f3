"""The client's pacing against a server that counts its own budget, all on a fake clock.

The budget tests used to run against the real sandbox over loopback, where a busy machine bunches
arrivals and the outcome depends on scheduling; here the server's sliding window (the sandbox's own) and
the client's limiter read the same fake clock, so the counts are exact.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import httpx
from genesys_fakes import FakeClock, FakeGenesys, make_settings, too_many

from pipeline.genesys import API, GenesysClient
from pipeline.sandbox.ratelimit import RateLimiter as ServerBudget

SCAN_PATH = f"{API}/scan/contacts"


@dataclass
class BudgetedServer:
    """:class:`FakeGenesys` behind the sandbox's per-token budget: over it, a 429 with Retry-After."""

    fake: FakeGenesys
    budget: ServerBudget
    refused: int = 0
    arrivals: list[float] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/oauth/token":
            if (wait := self.budget.acquire("token")) is not None:
                self.refused += 1
                return too_many(str(math.ceil(wait)))(request)
            self.arrivals.append(self.fake.clock())
        return self.fake.handler(request)


def client_against(server: BudgetedServer, clock: FakeClock, **settings: Any) -> GenesysClient:
    return GenesysClient(
        make_settings(**settings),
        transport=httpx.MockTransport(server.handler),
        clock=clock,
        sleep=clock.sleep,
    )


def scan_all(client: GenesysClient, workers: int, requests: int) -> int:
    """``requests`` scans spread over ``workers`` tasks; returns how many succeeded."""
    done = 0

    async def worker(count: int) -> None:
        nonlocal done
        for _ in range(count):
            await client.request("GET", SCAN_PATH)
            done += 1

    async def main() -> None:
        async with client:
            share, extra = divmod(requests, workers)
            await asyncio.gather(*(worker(share + (n < extra)) for n in range(workers)))

    asyncio.run(main())
    return done


def test_client_budget_below_the_server_budget_avoids_429s(clock: FakeClock) -> None:
    """A client limited to 4 per second against a 5-per-second server never meets a 429."""
    server = BudgetedServer(FakeGenesys(clock), ServerBudget(5, 1.0, clock=clock))
    client = client_against(server, clock, rate_limit_per_minute=4, rate_window_s=1.0)
    assert scan_all(client, workers=9, requests=9) == 9
    assert (client.stats.throttled, server.refused, client.stats.requests_sent) == (0, 0, 9)


def test_default_budget_against_the_same_server_budget_avoids_429s_at_full_speed(clock: FakeClock) -> None:
    """300/min against a 300/min server: five fake minutes of paced sends, no 429, ~300 sends a minute."""
    server = BudgetedServer(FakeGenesys(clock), ServerBudget(300, 60.0, clock=clock))
    client = client_against(server, clock)
    start, requests = clock(), 1500
    assert scan_all(client, workers=8, requests=requests) == requests
    assert (client.stats.throttled, server.refused) == (0, 0)
    minutes = (max(server.arrivals) - start) / 60.0
    assert requests / minutes >= 0.97 * 300


def test_pacing_keeps_requests_flowing_instead_of_a_minute_long_silence(clock: FakeClock) -> None:
    """At the default budget no two consecutive requests are more than a burst of intervals (~1 s) apart."""
    server = BudgetedServer(FakeGenesys(clock), ServerBudget(300, 60.0, clock=clock))
    client = client_against(server, clock)
    scan_all(client, workers=8, requests=900)
    gaps = [b - a for a, b in itertools.pairwise(server.arrivals)]
    assert max(gaps) <= 1.1
