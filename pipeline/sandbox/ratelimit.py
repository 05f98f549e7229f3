"""A per-token request budget over a sliding window, like the real API's 300 requests per minute.

A request over budget is refused with the seconds until the oldest counted request leaves the window;
the server rounds that up to whole seconds for ``Retry-After``, so a client that waits that long gets
through. Refused requests do not count.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit  # requests per window; 0 = no limit
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float | None:
        """Count one request; None when allowed, else the seconds to wait before it would be."""
        if self.limit <= 0:
            return None
        now = self._clock()
        with self._lock:
            stamps = self._seen.setdefault(key, deque())
            while stamps and stamps[0] <= now - self.window_s:
                stamps.popleft()
            if len(stamps) >= self.limit:
                return max(stamps[-self.limit] + self.window_s - now, 0.0)
            stamps.append(now)
            return None

    def configure(self, *, limit: int | None = None, window_s: float | None = None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = limit
            if window_s is not None:
                self.window_s = window_s
