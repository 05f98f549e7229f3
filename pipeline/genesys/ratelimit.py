"""Client-side rate limiting shared by every task of one client: even pacing under a hard budget.

Two rules, both must agree before a request goes:

* :class:`EvenPace` spreads the budget over the window: one send every ``window / limit`` seconds, with a
  small burst allowance (a GCRA, the "virtual scheduling" form of a token bucket). Requests flow steadily,
  so progress moves and logs stay alive, instead of a minute's budget going out at once followed by a long
  silent wait.
* :class:`SlidingWindow` is the hard cap: the send times of the last ``limit`` requests. A request may go
  at time ``t`` only if fewer than ``limit`` were sent in ``(t - window, t]``, so *every* window of that
  length, however it is aligned, holds at most ``limit`` sends. Pacing alone would let ``limit + burst - 1``
  through in a window that starts with a burst; the window trims that. Whatever window the server counts
  in, our sends never exceed its budget; what it sees can differ from what we sent only by network jitter
  between send and arrival, a few requests at most.

After a 429 the server wants *this client* to wait, not just the task that got it: :meth:`RateLimiter.
pause_until` holds back every later acquire. :attr:`RateLimiter.waiting_until` says until when a task is
held back (by the budget or a pause), so a progress display can say that the run is waiting, not stuck.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_MIN_WAIT_S = 0.001
# Pacing is a soft rule (the window is the hard one): a send this close to its slot is on time, so float
# rounding of accumulated slot times never costs a minimum wait per request.
_PACE_TOLERANCE_S = 1e-6
# Sends allowed back to back before pacing spaces them: about the workers one import keeps busy at the
# default 300/min (see ``importing.push.default_concurrency``), so they all start at once.
DEFAULT_BURST = 5


class SlidingWindow:
    """The pure hard cap: decides, for a given time, whether a send fits the budget."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window_s = window_s
        self._sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        """How long from ``now`` until a send fits (0: it fits now); records nothing."""
        # Compared as an elapsed time, the same way the budget is stated, so float rounding at the
        # boundary cannot let a send in a hair early.
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        # The oldest send leaves the window when it is window_s old. The floor guarantees progress: a wait
        # below the clock's resolution at large readings would never move the clock past the boundary.
        return max(self.window_s - (now - self._sent[0]), _MIN_WAIT_S)

    def record(self, now: float) -> None:
        self._sent.append(now)

    def reserve(self, now: float) -> float:
        """Record a send at ``now`` and return 0, or record nothing and return how long to wait."""
        wait = self.wait(now)
        if wait <= 0:
            self.record(now)
        return wait


class EvenPace:
    """The pure pacing rule: one send per ``interval_s`` on average, at most ``burst`` back to back."""

    def __init__(self, interval_s: float, burst: int) -> None:
        if interval_s <= 0 or burst < 1:
            raise ValueError("the interval must be positive and the burst at least 1")
        self.interval_s = interval_s
        self.burst = burst
        # The theoretical time of the next send if every earlier one had kept exactly to its slot.
        self._next = float("-inf")

    def wait(self, now: float) -> float:
        """How long from ``now`` until a send is due (0: now); records nothing."""
        earliest = self._next - (self.burst - 1) * self.interval_s
        wait = earliest - now
        return wait if wait > _PACE_TOLERANCE_S else 0.0

    def record(self, now: float) -> None:
        self._next = max(self._next, now) + self.interval_s


class RateLimiter:
    """Async limiter: ``await acquire()`` before each request; ``limit=0``: no budget, pauses still apply.

    ``burst`` (capped at ``limit``) is how many sends may go back to back before pacing spaces them.
    """

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        *,
        burst: int = DEFAULT_BURST,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._window = SlidingWindow(limit, window_s) if limit > 0 else None
        self._pace = EvenPace(window_s / limit, min(burst, limit)) if limit > 0 else None
        self._clock = clock
        self._sleep = sleep
        self._paused_until = float("-inf")
        self._waiting_until: float | None = None
        # One waiter at a time: later tasks queue on the lock in arrival order instead of racing.
        self._lock = asyncio.Lock()

    @property
    def paused_until(self) -> float:
        return self._paused_until

    @property
    def waiting_until(self) -> float | None:
        """Clock time until which the task at the head of the queue sleeps (None: nobody is held back)."""
        return self._waiting_until

    def waiting_s(self) -> float:
        """Seconds left until requests move again: 0 when nothing is held back by the budget or a pause."""
        until = self._waiting_until
        return max(until - self._clock(), 0.0) if until is not None else 0.0

    def pause_until(self, t: float) -> None:
        """No acquire returns before clock time ``t`` (a later pause wins; an earlier one never shortens)."""
        self._paused_until = max(self._paused_until, t)

    def pause_for(self, seconds: float) -> None:
        self.pause_until(self._clock() + seconds)

    def _wait(self, now: float) -> float:
        if self._paused_until > now:
            return self._paused_until - now
        if self._window is None or self._pace is None:
            return 0.0
        wait = max(self._window.wait(now), self._pace.wait(now))
        if wait <= 0:
            self._window.record(now)
            self._pace.record(now)
        return wait

    async def acquire(self) -> None:
        async with self._lock:
            try:
                while (wait := self._wait(now := self._clock())) > 0:
                    self._waiting_until = now + wait
                    await self._sleep(wait)
            finally:
                self._waiting_until = None


class WaitWatch:
    """Lets a progress display see whether a run is waiting on its rate limit, without holding the client.

    The CLI builds the display before the job builds its client, so the client cannot be handed over:
    inside ``with watch.active():`` every :class:`~pipeline.genesys.client.GenesysClient` created (in this
    context, which ``asyncio.run`` passes on to its tasks) registers its limiter here. Read from the
    display's thread; a float read needs no lock.
    """

    def __init__(self) -> None:
        self._limiters: list[RateLimiter] = []

    def add(self, limiter: RateLimiter) -> None:
        self._limiters.append(limiter)

    def waiting_s(self) -> float:
        """Seconds until the longest-held-back registered limiter lets requests go (0: none waits)."""
        return max((limiter.waiting_s() for limiter in list(self._limiters)), default=0.0)

    @contextmanager
    def active(self) -> Iterator[WaitWatch]:
        token = _ACTIVE_WATCH.set(self)
        try:
            yield self
        finally:
            _ACTIVE_WATCH.reset(token)


_ACTIVE_WATCH: ContextVar[WaitWatch | None] = ContextVar("pipeline_wait_watch", default=None)


def active_watch() -> WaitWatch | None:
    """The :class:`WaitWatch` a new client registers with, if a display set one."""
    return _ACTIVE_WATCH.get()
