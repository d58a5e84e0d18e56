"""Token bucket with an accurate long-run rate.

Tokens accrue continuously from a monotonic clock (never from sleep lengths, which overshoot),
capped at `burst`; `take()` blocks until a token is there. Because the refill is computed
from elapsed time, oversleeping only lets the bucket catch up within its burst capacity, so
the long-run rate stays at `rate` as long as the caller keeps up.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Blocking rate limiter: at most `burst` events at once, `rate` events/s on average."""

    def __init__(
        self,
        rate: float,
        burst: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 events/s (got {rate})")
        self.rate = float(rate)
        # Default capacity: 100 ms of events (at least one): absorbs sleep jitter and short
        # scheduler stalls on a busy machine without making the output noticeably bursty.
        self.burst = float(burst) if burst > 0 else max(1.0, self.rate / 10.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0  # the first event goes out at once
        self._last = clock()
        self.waited = 0.0  # total seconds spent sleeping (for diagnostics)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def take(self) -> None:
        """Block until one token is available and consume it."""
        self._refill()
        while self._tokens < 1.0:
            pause = max((1.0 - self._tokens) / self.rate, 0.0005)
            self._sleep(pause)
            self.waited += pause
            self._refill()
        self._tokens -= 1.0
