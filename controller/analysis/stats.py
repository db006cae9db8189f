"""Statistics over bucketed counts (pure): quantiles of a latency histogram, PSI and KS of two
percentile histograms."""

import math

import numpy as np

PSI_FLOOR = 1e-4
"""Share given to an empty bucket so PSI stays finite (a common convention)."""


def quantile(q: float, bounds: list[float], cumulative: list[float]) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated within its bucket like Prometheus's
    `histogram_quantile`; None without observations. `bounds` ends with +inf."""
    total = cumulative[-1] if cumulative else 0.0
    if total <= 0:
        return None
    rank = q * total
    for i, (bound, count) in enumerate(zip(bounds, cumulative, strict=True)):
        if count >= rank:
            if math.isinf(bound):
                return bounds[i - 1] if i > 0 else None  # beyond the last finite bound
            lower = bounds[i - 1] if i > 0 else 0.0
            below = cumulative[i - 1] if i > 0 else 0.0
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside > 0 else 1.0)
    return bounds[-2]


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts -> shares, empty buckets raised to PSI_FLOOR and renormalised."""
    share = np.asarray(counts, dtype=np.float64) / max(float(np.sum(counts)), 1.0)
    share = np.maximum(share, PSI_FLOOR)
    return share / share.sum()


def psi(actual: np.ndarray, expected: np.ndarray) -> float:
    """Population stability index of two histograms over the same buckets."""
    a, e = shares(actual), shares(expected)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(actual: np.ndarray, expected: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance of two histograms over the same ordered buckets."""
    a = np.cumsum(actual) / max(float(np.sum(actual)), 1.0)
    e = np.cumsum(expected) / max(float(np.sum(expected)), 1.0)
    return float(np.max(np.abs(a - e)))
