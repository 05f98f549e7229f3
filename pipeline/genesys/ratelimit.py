"""Client-side rate limiting shared by every task of one client.

A sliding-window log: the send times of the last ``limit`` requests. A request may go at time ``t`` only
if fewer than ``limit`` were sent in ``(t - window, t]``, so *every* window of that length, however it is
aligned, holds at most ``limit`` sends. That is the worst case a token bucket only approximates (a full
bucket plus a minute of refill lets ``limit + burst`` through). Whatever window the server counts in, our
sends never exceed its budget; what it sees can differ from what we sent only by network jitter between
send and arrival, a few requests at most.

After a 429 the server wants *this client* to wait, not just the task that got it: :meth:`pause_until`
holds back every later acquire.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_MIN_WAIT_S = 0.001


class SlidingWindow:
    """The pure core: decides, for a given time, whether a send fits the budget."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window_s = window_s
        self._sent: deque[float] = deque()

    def reserve(self, now: float) -> float:
        """Record a send at ``now`` and return 0, or record nothing and return how long to wait."""
        # Compared as an elapsed time, the same way the budget is stated, so float rounding at the
        # boundary cannot let a send in a hair early.
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            self._sent.append(now)
            return 0.0
        # The oldest send leaves the window when it is window_s old. The floor guarantees progress: a wait
        # below the clock's resolution at large readings would never move the clock past the boundary.
        return max(self.window_s - (now - self._sent[0]), _MIN_WAIT_S)


class RateLimiter:
    """Async limiter: ``await acquire()`` before each request; ``limit=0``: no budget, pauses still apply."""

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._window = SlidingWindow(limit, window_s) if limit > 0 else None
        self._clock = clock
        self._sleep = sleep
        self._paused_until = float("-inf")
        # One waiter at a time: later tasks queue on the lock in arrival order instead of racing.
        self._lock = asyncio.Lock()

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause_until(self, t: float) -> None:
        """No acquire returns before clock time ``t`` (a later pause wins; an earlier one never shortens)."""
        self._paused_until = max(self._paused_until, t)

    def pause_for(self, seconds: float) -> None:
        self.pause_until(self._clock() + seconds)

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                if self._paused_until > now:
                    await self._sleep(self._paused_until - now)
                    continue
                wait = self._window.reserve(now) if self._window is not None else 0.0
                if wait <= 0:
                    return
                await self._sleep(wait)
