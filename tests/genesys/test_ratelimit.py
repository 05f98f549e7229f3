"""The client-side rate limiter: a sliding-window budget plus client-wide pauses."""

from __future__ import annotations

import asyncio
import math

from genesys_fakes import FakeClock
from hypothesis import given
from hypothesis import strategies as st

from pipeline.genesys import RateLimiter, SlidingWindow


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
            await clock.sleep(0.05)  # time spent on the request itself

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(tasks)))

    start = clock()
    asyncio.run(main())
    assert len(sends) == tasks * per_task
    assert_within_budget(sends, limit, window)
    # Full batches of `limit` per window: the last send goes out right after the final window opens.
    full_windows = math.ceil(tasks * per_task / limit) - 1
    assert max(sends) - start <= full_windows * window + 5.0


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
