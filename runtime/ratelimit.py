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

    def take(self, key: str, rate: float | None = None, burst: float | None = None) -> float | None:
        """Spend one token of `key`'s bucket (refilled at `rate`, holding `burst`: the limiter's own
        unless given); None if allowed, else the seconds until the next token."""
        rate, burst = rate or self.rate, float(burst or self.burst)
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)  # now the most recent
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return None if allowed else (1.0 - tokens) / rate
