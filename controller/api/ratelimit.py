"""Per-client rate limiting: one token bucket per client key (pure arithmetic, injected clock)."""

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """`rate` requests per second sustained, `burst` at once, per key."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one token; None if allowed, else the seconds until the next token."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:  # forget idle clients; their buckets are full again anyway
                self._buckets = {
                    k: v for k, v in self._buckets.items() if now - v[1] < self.burst / self.rate
                }
            return None
