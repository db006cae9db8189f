"""The fault suite: each fault injected into the live runtime under steady load, its effect
asserted, and its figures (requests sent and failed, seconds to recover, the state afterwards)
recorded with the `report` fixture (tests/conftest.py) for `benchmarks/bench_faults.py`."""

import time


def until(check, timeout_s: float, every_s: float = 0.5) -> float | None:
    """Seconds until `check()` holds, or None after `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(every_s)
    return None
