"""Fault hooks of the fake API server: the failures a real cluster produces now and then, on demand.

Each call arms `n` faults; requests consume them in the order they were armed. Thread-safe, since the
server answers every connection on its own thread.
"""

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """Faults of one kind still to inject, and what they apply to."""

    what: str  # "conflict", "error" or "drop"
    left: int
    plural: str | None
    status: int = 0


class Faults:
    """The faults armed on one server; requests consume them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []

    def conflicts(self, n: int, plural: str | None = None) -> None:
        """The next `n` writes (PUT/PATCH; to `plural` only, if given) answer 409 Conflict, as if the
        object had changed since it was read."""
        self._arm(Fault("conflict", n, plural))

    def errors(self, n: int, status: int = 500, plural: str | None = None) -> None:
        """The next `n` requests (to `plural` only, if given) answer `status` with an error Status."""
        self._arm(Fault("error", n, plural, status))

    def drop_watches(self, n: int) -> None:
        """The next `n` watch streams are cut (the connection closed mid-stream) after their first event."""
        self._arm(Fault("drop", n, None))

    def clear(self) -> None:
        """Disarm every fault not yet consumed."""
        with self._lock:
            self._armed.clear()

    def _arm(self, fault: Fault) -> None:
        if fault.left < 0:
            raise ValueError(f"a fault count must be 0 or more, not {fault.left}")
        with self._lock:
            self._armed.append(fault)

    def take(self, what: str, plural: str | None) -> Fault | None:
        """Consume one armed fault of kind `what` that applies to `plural`; None if there is none."""
        with self._lock:
            for fault in self._armed:
                if fault.what == what and fault.left > 0 and fault.plural in (None, plural):
                    fault.left -= 1
                    self._armed = [f for f in self._armed if f.left > 0]
                    return fault
            return None
