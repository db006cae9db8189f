"""Confidence sequences over counts (pure): intervals that hold at every look at once.

One primitive carries every judge: the conjugate-mixture confidence sequence of a Bernoulli share
(Robbins 1970; Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform, nonparametric, nonasymptotic
confidence sequences", Ann. Statist. 2021). After `n` trials with `k` successes, the uniform-prior
mixture likelihood ratio against a share `p`,

    M_n(p) = B(k + 1, n - k + 1) / (p^k (1 - p)^(n - k)),

is a nonnegative martingale with mean 1 when `p` is the true share, so by Ville's inequality it ever
reaches 1/alpha with probability at most alpha, however often it is looked at. The set of shares with
M_n(p) < 1/alpha is therefore an interval that contains the truth at every n simultaneously, with
probability 1 - alpha.

A quantile of a latency histogram gets its interval the way Howard & Ramdas ("Sequential estimation
of quantiles with applications to A/B-testing and best-arm identification", Bernoulli 2022) build
theirs: the count of observations at or below the true q-quantile is a Bernoulli(q) count, so it
stays inside the band of counts the mixture allows for p = q; any bucket edge whose cumulative count
is outside that band lies on a known side of the quantile. Bounds are bucket edges: nothing is
interpolated inside a bucket, so the interval is exact for bucketed data.
"""

import functools
import math
from collections.abc import Callable

_ITERATIONS = 60


def log_mixture(k: float, n: float, p: float) -> float:
    """log M_n(p) for `k` successes in `n` trials (pure)."""
    if (k > 0 and p <= 0.0) or (n - k > 0 and p >= 1.0):
        return math.inf  # a share of 0 (or 1) cannot have produced a success (or a failure)
    marginal = math.lgamma(k + 1) + math.lgamma(n - k + 1) - math.lgamma(n + 2)
    at_p = (k * math.log(p) if k else 0.0) + ((n - k) * math.log1p(-p) if n - k else 0.0)
    return marginal - at_p


@functools.lru_cache(maxsize=1 << 16)  # counts repeat across looks and judges; the bisection is the cost
def share_interval(k: float, n: float, alpha: float) -> tuple[float, float]:
    """The confidence sequence of a Bernoulli share after `k` of `n` (pure); (0, 1) without trials."""
    if n <= 0:
        return 0.0, 1.0
    k = min(max(k, 0.0), n)
    level, centre = math.log(1 / alpha), k / n
    inside = lambda p: log_mixture(k, n, p) < level  # noqa: E731

    low = 0.0 if k == 0 else _edge(inside, centre, 0.0)
    high = 1.0 if k == n else _edge(inside, centre, 1.0)
    return low, high


@functools.lru_cache(maxsize=1 << 16)
def count_band(q: float, n: float, alpha: float) -> tuple[float, float]:
    """The counts a Bernoulli(q) process may show after `n` trials without the mixture reaching
    1/alpha (pure): (low, high), open bounds."""
    level = math.log(1 / alpha)
    inside = lambda k: log_mixture(k, n, q) < level  # noqa: E731
    centre = q * n
    low = _edge(inside, centre, 0.0) if not inside(0.0) else -math.inf
    high = _edge(inside, centre, n) if not inside(n) else math.inf
    return low, high


def quantile_interval(
    q: float, bounds: list[float], cumulative: list[float], alpha: float
) -> tuple[float, float]:
    """The confidence sequence of the q-quantile of a cumulative histogram (pure): bucket edges
    (0, +inf) when the counts cannot tell. `bounds` are upper bucket edges ending with +inf."""
    n = cumulative[-1] if cumulative else 0.0
    if n <= 0:
        return 0.0, math.inf
    low_count, high_count = count_band(q, n, alpha)
    low, high = 0.0, math.inf
    for bound, count in zip(bounds, cumulative, strict=True):
        if count < low_count and not math.isinf(bound):
            low = bound  # fewer at or below this edge than a q-quantile above it allows
        if count > high_count and math.isinf(high):
            high = bound  # more at or below this edge than the q-quantile beyond it allows
    return low, high


def smallest_alpha(rejects: Callable[[float], bool], floor: float = 1e-12) -> float:
    """The anytime-valid p-value of a test built from confidence sequences (pure): the smallest alpha
    at which `rejects(alpha)` holds (their intervals widen as alpha falls, so `rejects` is monotone);
    1.0 when it does not reject even at alpha = 1."""
    if not rejects(1.0):
        return 1.0
    if rejects(floor):
        return floor
    low, high = math.log(floor), 0.0  # rejects at exp(high), not at exp(low)
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (low, middle) if rejects(math.exp(middle)) else (middle, high)
    return math.exp(high)


def _edge(inside: Callable[[float], bool], centre: float, outside: float) -> float:
    """The point between `centre` (inside the set) and `outside` where a convex set ends (pure)."""
    if inside(outside):
        return outside
    a, b = centre, outside
    for _ in range(_ITERATIONS):
        middle = (a + b) / 2
        a, b = (middle, b) if inside(middle) else (a, middle)
    return (a + b) / 2
