"""The client-side rate limiter: even pacing under a sliding-window budget, plus client-wide pauses.

All on a fake clock: nothing here depends on how fast the machine runs.
"""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest
from genesys_fakes import FakeClock, make_settings
from hypothesis import given
from hypothesis import strategies as st

from pipeline.genesys import GenesysClient, RateLimiter, SlidingWindow
from pipeline.genesys.ratelimit import WaitWatch


def assert_within_budget(sends: list[float], limit: int, window: float) -> None:
    """No half-open window (t - window, t] holds more than ``limit`` of the sorted send times."""
    ordered = sorted(sends)
    for first, later in zip(ordered, ordered[limit:], strict=False):
        assert later - first >= window, f"{limit + 1} sends within {later - first:.3f} s"


def test_window_grants_up_to_the_limit_then_reports_the_wait() -> None:
    """The (limit+1)th send in a window is refused with the time until the oldest one leaves it."""
    window = SlidingWindow(limit=3, window_s=60.0)
    assert [window.reserve(t) for t in (0.0, 1.0, 2.0)] == [0.0, 0.0, 0.0]
    assert window.reserve(10.0) == 50.0
    assert window.reserve(60.0) == 0.0


@given(
    limit=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0.0, max_value=30.0, allow_nan=False), min_size=1, max_size=200),
)
def test_window_never_grants_more_than_the_limit_in_any_window(limit: int, gaps: list[float]) -> None:
    """Whatever the arrival pattern, granted sends never exceed the limit within any window."""
    window = SlidingWindow(limit=limit, window_s=60.0)
    now, sends = 0.0, []
    for gap in gaps:
        now += gap
        while (wait := window.reserve(now)) > 0:
            now += wait
        sends.append(now)
    assert_within_budget(sends, limit, 60.0)


def test_concurrent_tasks_never_exceed_the_budget_in_any_window(clock: FakeClock) -> None:
    """Fifty tasks sharing one limiter stay within the budget, and are not throttled below it."""
    limit, window, tasks, per_task = 30, 60.0, 50, 20
    limiter = RateLimiter(limit, window, clock=clock, sleep=clock.sleep)
    sends: list[float] = []

    async def worker() -> None:
        for _ in range(per_task):
            await limiter.acquire()
            sends.append(clock())
            # Requests take no fake time: the fake clock adds up concurrent sleeps one after the other.
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(tasks)))

    start = clock()
    asyncio.run(main())
    assert len(sends) == tasks * per_task
    assert_within_budget(sends, limit, window)
    # `limit` per window: the last send goes out within the window that the final batch needs.
    windows_needed = math.ceil(tasks * per_task / limit)
    assert max(sends) - start < windows_needed * window


def test_pause_holds_back_every_task(clock: FakeClock) -> None:
    """After one task pauses the limiter for 30 s, no task acquires before those 30 s are over."""
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)
    sends: list[float] = []
    paused_at: list[float] = []

    async def worker(n: int) -> None:
        for i in range(5):
            await limiter.acquire()
            if paused_at:
                sends.append(clock())
            if n == 0 and i == 1:
                paused_at.append(clock())
                limiter.pause_for(30.0)
            await clock.sleep(0.01)

    async def main() -> None:
        await asyncio.gather(*(worker(n) for n in range(4)))

    asyncio.run(main())
    assert len(sends) >= 3 * 5 - 2, "most sends happen after the pause"
    assert min(sends) >= paused_at[0] + 30.0


def test_a_shorter_pause_never_shortens_a_longer_one(clock: FakeClock) -> None:
    """Two 429s close together: the later-ending pause is the one that holds."""
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.pause_for(20.0)
    limiter.pause_for(5.0)
    start = clock()
    asyncio.run(limiter.acquire())
    assert clock() >= start + 20.0


def test_zero_limit_means_no_budget(clock: FakeClock) -> None:
    """With limit 0 any number of acquires pass at once."""
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)

    async def main() -> None:
        for _ in range(1000):
            await limiter.acquire()

    asyncio.run(main())
    assert clock.sleeps == []


def run_workers(limiter: RateLimiter, clock: FakeClock, workers: int, until: float) -> list[float]:
    """Send times of ``workers`` tasks acquiring in a loop until fake time ``until`` (requests take none)."""
    sends: list[float] = []

    async def worker() -> None:
        while True:
            await limiter.acquire()
            if clock() >= until:
                return
            sends.append(clock())
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(workers)))

    asyncio.run(main())
    return sends


def test_pacing_spaces_sends_evenly_after_a_small_burst(clock: FakeClock) -> None:
    """300/min with a burst of 5: five sends at once, then one every 0.2 s, not a minute's budget at once."""
    start = clock()
    limiter = RateLimiter(300, 60.0, burst=5, clock=clock, sleep=clock.sleep)
    sends = run_workers(limiter, clock, workers=8, until=start + 50.0)
    assert sends[:5] == [start] * 5
    gaps = [b - a for a, b in itertools.pairwise(sends[5:])]
    assert gaps == pytest.approx([0.2] * len(gaps), abs=1e-6)
    assert max(sends.count(t) for t in set(sends)) == 5


def test_pacing_never_waits_long_so_a_run_never_goes_silent(clock: FakeClock) -> None:
    """Over five minutes at 300/min no gap between sends exceeds one burst's worth of intervals."""
    start = clock()
    limiter = RateLimiter(300, 60.0, burst=5, clock=clock, sleep=clock.sleep)
    sends = run_workers(limiter, clock, workers=8, until=start + 300.0)
    assert max(b - a for a, b in itertools.pairwise(sends)) <= 5 * 0.2 + 1e-6
    assert max(clock.sleeps) <= 5 * 0.2 + 1e-6


@pytest.mark.parametrize(("limit", "burst", "workers"), [(300, 5, 8), (300, 20, 20), (4, 5, 9), (60, 1, 3)])
def test_paced_sends_stay_within_budget_and_close_to_it(
    clock: FakeClock, limit: int, burst: int, workers: int
) -> None:
    """Over six fake minutes no 60 s window holds more than the budget, and each minute uses nearly all."""
    start, minutes = clock(), 6
    limiter = RateLimiter(limit, 60.0, burst=burst, clock=clock, sleep=clock.sleep)
    sends = run_workers(limiter, clock, workers=workers, until=start + minutes * 60.0)
    assert_within_budget(sends, limit, 60.0)
    assert len(sends) >= minutes * limit - 1


@given(
    limit=st.integers(min_value=1, max_value=50),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0.0, max_value=30.0, allow_nan=False), min_size=1, max_size=200),
)
def test_pacing_under_any_arrival_pattern_never_exceeds_the_budget(
    limit: int, burst: int, gaps: list[float]
) -> None:
    """Whatever the arrival pattern and burst, paced sends never exceed the limit within any window."""
    clock = FakeClock()
    limiter = RateLimiter(limit, 60.0, burst=burst, clock=clock, sleep=clock.sleep)
    sends: list[float] = []

    async def main() -> None:
        for gap in gaps:
            clock.now += gap
            await limiter.acquire()
            sends.append(clock())

    asyncio.run(main())
    assert_within_budget(sends, limit, 60.0)


def test_waiting_state_reports_the_time_left_while_held_back(clock: FakeClock) -> None:
    """While a task sleeps on the limiter (budget or 429 pause) it reports the seconds left; 0 otherwise."""
    seen: list[float] = []

    async def observing_sleep(seconds: float) -> None:
        seen.append(limiter.waiting_s())
        await clock.sleep(seconds)

    limiter = RateLimiter(10, 60.0, clock=clock, sleep=observing_sleep)
    assert limiter.waiting_s() == 0.0
    limiter.pause_for(30.0)
    asyncio.run(limiter.acquire())
    assert seen == [30.0]
    assert limiter.waiting_until is None
    assert limiter.waiting_s() == 0.0


def test_a_watch_sees_the_wait_of_clients_built_while_it_is_active(clock: FakeClock) -> None:
    """A client built (in asyncio.run) inside ``WaitWatch.active()`` registers with it; others do not."""
    watch = WaitWatch()
    seen: list[tuple[float, float]] = []

    async def observing_sleep(seconds: float) -> None:
        seen.append((watch.waiting_s(), client.waiting_s()))
        await clock.sleep(seconds)

    async def build() -> GenesysClient:
        return GenesysClient(make_settings(), clock=clock, sleep=observing_sleep)

    with watch.active():
        client = asyncio.run(build())  # as the jobs do: built inside asyncio.run, which copies the context
    outside = GenesysClient(make_settings(), clock=clock, sleep=clock.sleep)
    client.limiter.pause_for(12.0)
    outside.limiter.pause_for(99.0)
    asyncio.run(client.limiter.acquire())
    assert seen == [(12.0, 12.0)]
    assert watch.waiting_s() == 0.0
