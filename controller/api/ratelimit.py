"""Per-client rate limiting: one token bucket per client key (pure arithmetic, injected clock).

The table of buckets is bounded: past `max_keys` the least recently seen client is forgotten, in
O(1), so a flood of new keys costs every caller the same few microseconds. A client forgotten while
its bucket was not yet full starts again full; with unverified callers sharing their address's
bucket, only many addresses or many valid tokens can push others out.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """`rate` requests per second sustained, `burst` at once, per key; at most `max_keys` keys."""

    def __init__(
        self, rate: float, burst: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ):
        self.rate, self.burst, self.max_keys, self._clock = rate, burst, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one token; None if allowed, else the seconds until the next token."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)  # now the most recent
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return None if allowed else (1.0 - tokens) / self.rate
