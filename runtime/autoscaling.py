"""Autoscaling of the gateway on the CPU it uses.

Serve's default policy scales on ongoing requests sampled at each replica. A gateway that scores
inline answers a request without yielding to its event loop, so a sample never catches one in
progress: under saturating load the gateway reported 0 ongoing requests and never scaled
(measured). Its own request latencies miss the per-request work Serve does around the handler
(they summed to ~0.19 of the wall time of a saturated replica, measured). What does rise with
its load is the replica process's CPU time, as Kubernetes' HPA scales on: each replica reports
the share of one core it used since the last report, and `cpu_policy` asks for enough replicas
to bring that share to `target_ongoing_requests`. Serve applies the replica bounds and the
up/down delays around the policy. Dedicated versions keep Serve's default policy: their requests
arrive through handles, which report them.
"""

import time
from collections.abc import Callable

CPU_SHARE = "raynomaly_cpu_share"
POLICY = "runtime.autoscaling:cpu_policy"


class CpuShare:
    """The share of one core this process used since the last reading."""

    def __init__(
        self, cpu: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic
    ):
        self._cpu, self._clock = cpu, clock
        self._cpu_at, self._since = cpu(), clock()

    def read(self) -> float:
        """CPU seconds over wall seconds since the last reading (then start a new period)."""
        cpu, now = self._cpu(), self._clock()
        used, elapsed = cpu - self._cpu_at, now - self._since
        self._cpu_at, self._since = cpu, now
        return used / elapsed if elapsed > 0 else 0.0


def cpu_policy(ctx) -> tuple[float, dict]:
    """Desired replicas (pure): the CPU every replica reported over the target share per replica.
    `ctx` is Serve's AutoscalingContext."""
    if ctx.current_num_replicas == 0:
        return ctx.target_num_replicas, {}
    reported = (ctx.aggregated_metrics or {}).get(CPU_SHARE, {})
    return sum(reported.values()) / ctx.config.get_target_ongoing_requests(), {}
