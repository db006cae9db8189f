"""The regressions a rollout looks for, each a sequential test with a floor and the regression of
twice that floor it must be able to see (pure). `judged(...)` runs the ones that apply.

- `latency`: some quantile of the candidate (p50, p75, p90, p95, p99) is above max(ratio x the
  baseline's, the baseline's + `latency_tolerance_ms`); ratio `max_p50_ratio` below p90,
  `max_p99_ratio` from p90 up.
- `error_share`: the candidate's share of the server errors is above its share of the requests, and
  its error rate is above the baseline's by more than `max_error_rate_delta`.
- `ks_reference`: the KS distance of the candidate's score percentiles from its reference (uniform)
  is above `max_ks`; `ks_stable`: the same against the baseline's percentiles.
- `anomaly_rate_delta`: the anomaly shares differ by more than `max_anomaly_rate_delta`, either way.
- `agreement`: paired label agreement is below `min_agreement` (mirrored traffic only).
"""

import math

import numpy as np

from controller.analysis.judges import Arms, Question, judge
from controller.analysis.sequential import quantile_interval, share_interval
from controller.analysis.stats import ks, quantile
from controller.analysis.thresholds import Thresholds
from controller.analysis.verdict import Measurement
from controller.analysis.window import VersionWindow
from runtime.series import PERCENTILE_EDGES

EDGES = np.asarray(PERCENTILE_EDGES[:-1])
"""The inner edges of the score-percentile buckets (a version scoring like its reference has
F(e) = e at each)."""
UNIFORM = np.ones(len(EDGES) + 1)
QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
"""The latency quantiles judged (and where the worst ratio, the latency effect, is read)."""


def judged(
    t: Thresholds, arms: Arms, alpha: float, paired: bool, previous: dict[str, float]
) -> list[Measurement]:
    """Every judge that applies to `arms` at its share `alpha` (pure); `previous` holds each judge's
    p-value from the step's earlier looks."""
    return [
        judge(name, JUDGES[name](t, arms), arms, alpha, previous.get(name, 1.0))
        for name in names(arms.baseline is not None, paired)
    ]


def names(baseline: bool, paired: bool) -> list[str]:
    """The judges that run (pure): without a baseline only the reference drift; agreement when the
    candidate sees mirrored copies of the same requests."""
    against = ["latency", "error_share", "ks_reference", "ks_stable", "anomaly_rate_delta"]
    return (against if baseline else ["ks_reference"]) + (["agreement"] if paired else [])


def count(baseline: bool, paired: bool) -> int:
    """How many judges `judged` runs (pure): the rollout's alpha is split among them."""
    return len(names(baseline, paired))


def rejects(name: str, t: Thresholds, arms: Arms, alpha: float) -> bool:
    """Whether judge `name` finds the candidate worse beyond its floor at `alpha` (pure): the event
    whose chance over all looks alpha bounds, for simulations and property tests."""
    return JUDGES[name](t, arms).test(arms, alpha)[0]


def _latency(t: Thresholds, arms: Arms) -> Question:
    """The candidate's median, p75, p90, p95 and p99 against the baseline's, each a confidence
    sequence of that quantile on both sides (Howard & Ramdas 2022), read at bucket edges. It fails
    when at some level the candidate's lower bound is above max(ratio x the baseline's upper bound,
    that + tolerance), ratio being `max_p50_ratio` below p90 and `max_p99_ratio` from p90 up."""

    def limit(x: float, q: float) -> float:
        ratio = t.max_p99_ratio if q >= 0.9 else t.max_p50_ratio
        return max(ratio * x, x + t.latency_tolerance_ms)

    def test(a: Arms, alpha: float):
        share = alpha / (2 * len(QUANTILES))  # every level of both arms holds at once
        rejected, cleared, low, high = False, True, 0.0, 0.0
        for q in QUANTILES:
            low_c, high_c = quantile_bounds(q, a.candidate, share)
            low_s, high_s = quantile_bounds(q, a.baseline, share)
            rejected |= low_c > limit(high_s, q)
            cleared &= high_c <= limit(low_s, q)
            low = max(low, low_c / high_s if 0 < high_s < math.inf else 0.0)
            high = max(high, high_c / low_s if low_s else math.inf)
        return rejected, cleared and not rejected, low, high

    def alternative(a: Arms) -> Arms:
        theirs = quantile(0.99, a.baseline.latency_bounds, a.baseline.latency_cumulative)
        if not theirs:
            return a
        scale = (theirs + 2 * (limit(theirs, 0.99) - theirs)) / theirs
        return Arms(_slower(a.baseline, scale, a.candidate.requests), a.baseline)

    return Question(test, alternative, worst_ratio(arms), t.max_p99_ratio, arms.candidate.requests, "x")


def worst_ratio(arms: Arms) -> float | None:
    """The largest ratio of the candidate's quantile to the baseline's, over the median and up
    (interpolated like `histogram_quantile`); None without both."""
    ratios = [latency_estimate(q, arms) for q in QUANTILES]
    return max((r for r in ratios if r is not None), default=None)


def _errors(t: Thresholds, arms: Arms) -> Question:
    """Conditional on how many server errors both versions produced, each error is the candidate's
    with probability equal to its share of the requests when both fail equally often (Lindon et al.
    2022): the candidate's share of the errors, against its share of the requests. The candidate's
    excess error rate must also pass the floor, so a tiny real difference never fails a rollout."""
    floor = t.max_error_rate_delta

    def share(a: Arms) -> float:
        total = a.candidate.requests + a.baseline.requests
        return a.candidate.requests / total if total else 0.0

    def excess(a: Arms) -> float:
        c, b = a.candidate, a.baseline
        return (c.error_rate or 0.0) - (b.error_rate or 0.0)

    def test(a: Arms, alpha: float):
        errors = a.candidate.server_errors + a.baseline.server_errors
        low, high = share_interval(a.candidate.server_errors, errors, alpha)
        return low > share(a) and excess(a) > floor, high <= share(a), low, high

    def alternative(a: Arms) -> Arms:
        rate = min(1.0, (a.baseline.error_rate or 0.0) + 2 * floor)
        n = a.candidate.requests
        return Arms(VersionWindow(requests=n, server_errors=n * rate), a.baseline)

    c, b = arms.candidate, arms.baseline
    errors = c.server_errors + b.server_errors
    estimate = c.server_errors / errors if errors else None
    return Question(test, alternative, estimate, share(arms), c.requests)


def _edge_bounds(window: VersionWindow, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Each inner edge's share of rows at or below it, as confidence sequences at `alpha` each."""
    shares = cumulative_shares(window.percentiles)
    bounds = [share_interval(s * window.rows, window.rows, alpha) for s in shares]
    return np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])


def _drift_reference(t: Thresholds, arms: Arms) -> Question:
    def test(a: Arms, alpha: float):
        low, high = _edge_bounds(a.candidate, alpha / len(EDGES))
        distance_low = float(np.max(np.maximum.reduce([np.zeros_like(low), low - EDGES, EDGES - high])))
        distance_high = float(np.max(np.maximum(high - EDGES, EDGES - low)))
        return distance_low > t.max_ks, distance_high <= t.max_ks, distance_low, distance_high

    def alternative(a: Arms) -> Arms:
        return Arms(_shifted(EDGES, a.candidate.rows, t.max_ks), a.baseline)

    return Question(test, alternative, drift_estimate(arms.candidate, UNIFORM), t.max_ks, arms.candidate.rows)


def _drift_stable(t: Thresholds, arms: Arms) -> Question:
    def test(a: Arms, alpha: float):
        low_c, high_c = _edge_bounds(a.candidate, alpha / (2 * len(EDGES)))
        low_s, high_s = _edge_bounds(a.baseline, alpha / (2 * len(EDGES)))
        distance_low = float(
            np.max(np.maximum.reduce([np.zeros_like(low_c), low_c - high_s, low_s - high_c]))
        )
        distance_high = float(np.max(np.maximum(high_c - low_s, high_s - low_c)))
        return distance_low > t.max_ks, distance_high <= t.max_ks, distance_low, distance_high

    def alternative(a: Arms) -> Arms:
        stable = cumulative_shares(a.baseline.percentiles) if a.baseline.rows else EDGES
        return Arms(_shifted(stable, a.candidate.rows, t.max_ks), a.baseline)

    c, b = arms.candidate, arms.baseline
    estimate = drift_estimate(c, b.percentiles) if b.rows else None
    return Question(test, alternative, estimate, t.max_ks, c.rows)


def _anomaly(t: Thresholds, arms: Arms) -> Question:
    floor = t.max_anomaly_rate_delta

    def test(a: Arms, alpha: float):
        low_c, high_c = share_interval(a.candidate.anomalies, a.candidate.rows, alpha / 2)
        low_s, high_s = share_interval(a.baseline.anomalies, a.baseline.rows, alpha / 2)
        low, high = low_c - high_s, high_c - low_s
        return low > floor or high < -floor, -floor <= low and high <= floor, low, high

    def alternative(a: Arms) -> Arms:
        rate = min(1.0, (a.baseline.anomaly_rate or 0.0) + 2 * floor)
        n = a.candidate.rows
        return Arms(VersionWindow(rows=n, anomalies=n * rate), a.baseline)

    c, b = arms.candidate, arms.baseline
    estimate = c.anomaly_rate - b.anomaly_rate if c.rows and b.rows else None
    return Question(test, alternative, estimate, floor, c.rows)


def _agreement(t: Thresholds, arms: Arms) -> Question:
    def paired(a: Arms) -> tuple[float, float]:
        agree = a.candidate.agree + (a.baseline.agree if a.baseline else 0.0)
        return agree, agree + a.candidate.disagree + (a.baseline.disagree if a.baseline else 0.0)

    def test(a: Arms, alpha: float):
        low, high = share_interval(*paired(a), alpha)
        return high < t.min_agreement, low >= t.min_agreement, low, high

    def alternative(a: Arms) -> Arms:
        _, n = paired(a)
        share = max(0.0, 2 * t.min_agreement - 1)
        return Arms(VersionWindow(agree=n * share, disagree=n * (1 - share)), None)

    agree, n = paired(arms)
    return Question(test, alternative, agree / n if n else None, t.min_agreement, n)


JUDGES = {
    "latency": _latency,
    "error_share": _errors,
    "ks_reference": _drift_reference,
    "ks_stable": _drift_stable,
    "anomaly_rate_delta": _anomaly,
    "agreement": _agreement,
}


def quantile_bounds(q: float, window: VersionWindow, alpha: float) -> tuple[float, float]:
    """A version's q-quantile latency confidence sequence (pure)."""
    return quantile_interval(q, window.latency_bounds, window.latency_cumulative, alpha)


def cumulative_shares(percentiles: np.ndarray) -> np.ndarray:
    """The share of rows at or below each inner percentile edge (pure)."""
    counts = np.asarray(percentiles, dtype=np.float64)
    return np.cumsum(counts)[:-1] / max(float(counts.sum()), 1.0)


def drift_estimate(candidate: VersionWindow, reference: np.ndarray) -> float | None:
    """The KS distance of the candidate's percentile histogram from `reference` (pure)."""
    return ks(candidate.percentiles, reference) if candidate.rows else None


def latency_estimate(q: float, arms: Arms) -> float | None:
    """The candidate's q-quantile over the baseline's (pure); None without both."""
    mine = quantile(q, arms.candidate.latency_bounds, arms.candidate.latency_cumulative)
    theirs = quantile(q, arms.baseline.latency_bounds, arms.baseline.latency_cumulative)
    return mine / theirs if mine is not None and theirs else None


def _slower(window: VersionWindow, scale: float, requests: float) -> VersionWindow:
    """`window`'s latency histogram with every latency times `scale`, holding `requests` requests
    (interpolated inside buckets, as `histogram_quantile` assumes)."""
    bounds, cumulative = window.latency_bounds, window.latency_cumulative
    total = cumulative[-1] if cumulative else 0.0
    finite = [b for b in bounds if not math.isinf(b)]
    shares = np.interp(np.array(finite) / scale, [0.0, *finite], [0.0, *cumulative[: len(finite)]]) / max(
        total, 1
    )
    return VersionWindow(
        requests=requests,
        latency_bounds=bounds,
        latency_cumulative=[*(shares * requests), requests],
    )


def _shifted(cdf: np.ndarray, rows: float, floor: float) -> VersionWindow:
    """A percentile histogram `2 x floor` (KS) away from `cdf`, holding `rows` rows."""
    bump = min(2 * floor, 0.45) * 4 * EDGES * (1 - EDGES)
    shifted = np.maximum.accumulate(np.clip(cdf + bump, 0.0, 1.0))
    counts = np.diff(np.concatenate([[0.0], shifted, [1.0]])) * rows
    return VersionWindow(rows=rows, percentiles=counts)
