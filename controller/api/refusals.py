"""Which refused credentials (401s) reach the audit log, bounded so that a caller sending bad
tokens cannot grow the log without limit: at most one entry per client address per window, which
carries how many refusals it stands for, and at most `per_window` entries in all per window
(pure arithmetic over an injected time)."""

import threading
from collections import OrderedDict


class Refusals:
    """Counts 401s per client address; `note` says when one should be written to the audit log."""

    def __init__(self, window_s: float = 60.0, per_window: int = 100, max_addresses: int = 10_000):
        self.window_s, self.per_window, self.max_addresses = window_s, per_window, max_addresses
        self._addresses: OrderedDict[str, tuple[float, int]] = OrderedDict()
        """address -> (when its last entry was written, refusals counted since)."""
        self._window: tuple[float, int] = (float("-inf"), 0)
        """(start of the current window, entries written in it) over every address."""
        self._lock = threading.Lock()

    def note(self, address: str, now: float) -> int | None:
        """Count one refusal from `address`; the refusals the entry to write now stands for, or None
        when this one is only counted (it shows in that address's next entry)."""
        with self._lock:
            written, pending = self._addresses.pop(address, (float("-inf"), 0))
            start, entries = self._window
            if now - start >= self.window_s:
                start, entries = now, 0
            if now - written >= self.window_s and entries < self.per_window:
                self._addresses[address], self._window = (now, 0), (start, entries + 1)
                answer = pending + 1
            else:
                self._addresses[address], self._window = (written, pending + 1), (start, entries)
                answer = None
            if len(self._addresses) > self.max_addresses:
                self._addresses.popitem(last=False)  # the least recently refused address
            return answer
