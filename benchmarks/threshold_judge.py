"""The rollout judgement raynomaly used before its sequential judges, kept as the benchmark's peer:
fixed thresholds on point estimates of each window, `min_requests` / `min_rows` per window, and
`failure_limit` failed windows tolerated (defaults of that release)."""

import numpy as np

from controller.analysis.stats import ks, psi, quantile
from controller.analysis.window import VersionWindow

MAX_P99_RATIO, MAX_P50_RATIO, TOLERANCE_MS = 1.5, 2.0, 5.0
MAX_ERROR_RATE, MAX_PSI, MAX_KS, MAX_ANOMALY_DELTA = 0.01, 0.25, 0.2, 0.05
MIN_REQUESTS, MIN_ROWS, FAILURE_LIMIT = 50, 200, 1
UNIFORM = np.ones(20)


def window_failed(candidate: VersionWindow, baseline: VersionWindow) -> bool | None:
    """Whether one window failed (any measurement over its threshold); None when it did not and some
    measurement had too little traffic to judge (Inconclusive: the worst outcome decided)."""
    failed = False
    latency = candidate.requests >= MIN_REQUESTS and baseline.requests >= MIN_REQUESTS
    drift = candidate.rows >= MIN_ROWS and baseline.rows >= MIN_ROWS
    if latency:
        for q, limit in ((0.99, MAX_P99_RATIO), (0.5, MAX_P50_RATIO)):
            mine = quantile(q, candidate.latency_bounds, candidate.latency_cumulative)
            theirs = quantile(q, baseline.latency_bounds, baseline.latency_cumulative)
            ratio = mine / theirs if theirs else float("inf")
            failed |= ratio > limit and mine - theirs > TOLERANCE_MS
        failed |= candidate.error_rate > MAX_ERROR_RATE
    if drift:
        for expected in (UNIFORM, baseline.percentiles):
            failed |= psi(candidate.percentiles, expected) > MAX_PSI
            failed |= ks(candidate.percentiles, expected) > MAX_KS
        failed |= abs(candidate.anomaly_rate - baseline.anomaly_rate) > MAX_ANOMALY_DELTA
    inconclusive = not (latency and drift)
    return True if failed else (None if inconclusive else False)
