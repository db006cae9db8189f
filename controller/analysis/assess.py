"""`assess`: judge one window of the candidate against the baseline (pure).

The baseline is the stable version on the same live traffic (canary, blue-green, shadow) or the
same version before its update (rolling). Each measurement gets its own phase; too little traffic
is Inconclusive, never a pass or a fail.
"""

import numpy as np

from controller.analysis.stats import ks, psi, quantile
from controller.analysis.verdict import Measurement, Outcome, Verdict
from controller.analysis.window import VersionWindow
from controller.rollouts.spec import Thresholds

UNIFORM = np.ones(20)
"""A version that scores like its reference fills the 20 percentile buckets equally."""

S, F, INC = Outcome.SUCCESSFUL, Outcome.FAILED, Outcome.INCONCLUSIVE


def unreachable(message: str) -> Verdict:
    """The verdict of a window whose metrics could not be read (pure)."""
    return Verdict.of([Measurement("metrics", Outcome.ERROR, message=message)])


def assess(
    thresholds: Thresholds, candidate: VersionWindow, baseline: VersionWindow | None, paired: bool = False
) -> Verdict:
    """Every measurement of the window and their combined outcome (pure)."""
    measurements = [*_latency(thresholds, candidate, baseline), _errors(thresholds, candidate)]
    measurements += _drift(thresholds, candidate, baseline)
    if paired:
        measurements.append(_agreement(thresholds, candidate, baseline))
    return Verdict.of(measurements)


def _few(name: str, what: str, have: float, need: int, threshold: float) -> Measurement:
    return Measurement(name, INC, None, threshold, f"{name}: {have:.0f} {what} in the window, need {need}")


def _latency(t: Thresholds, candidate: VersionWindow, baseline: VersionWindow | None) -> list[Measurement]:
    if candidate.requests < t.min_requests:
        few = _few("p99_ms", "candidate requests", candidate.requests, t.min_requests, t.max_p99_ms)
        return [few] + (
            []
            if baseline is None
            else [
                _few(n, "candidate requests", candidate.requests, t.min_requests, limit)
                for n, limit in (("p99_ratio", t.max_p99_ratio), ("p50_ratio", t.max_p50_ratio))
            ]
        )
    p99 = quantile(0.99, candidate.latency_bounds, candidate.latency_cumulative)
    ceiling = Measurement(
        "p99_ms",
        F if p99 > t.max_p99_ms else S,
        p99,
        t.max_p99_ms,
        f"candidate p99 {p99:.1f} ms {'>' if p99 > t.max_p99_ms else '<='} ceiling {t.max_p99_ms:g} ms",
    )
    if baseline is None:
        return [ceiling]
    if baseline.requests < t.min_requests:
        return [ceiling] + [
            _few(n, "baseline requests", baseline.requests, t.min_requests, limit)
            for n, limit in (("p99_ratio", t.max_p99_ratio), ("p50_ratio", t.max_p50_ratio))
        ]
    ratios = []
    for name, q, limit in (("p99_ratio", 0.99, t.max_p99_ratio), ("p50_ratio", 0.5, t.max_p50_ratio)):
        mine = quantile(q, candidate.latency_bounds, candidate.latency_cumulative)
        theirs = quantile(q, baseline.latency_bounds, baseline.latency_cumulative)
        ratio = mine / theirs if theirs else float("inf")
        failed = ratio > limit and mine - theirs > t.latency_tolerance_ms
        text = f"{name} {ratio:.2f} ({mine:.1f} ms vs {theirs:.1f} ms), limit {limit:g}"
        ratios.append(Measurement(name, F if failed else S, ratio, limit, text))
    return [ceiling, *ratios]


def _errors(t: Thresholds, candidate: VersionWindow) -> Measurement:
    if candidate.requests < t.min_requests:
        return _few("error_rate", "candidate requests", candidate.requests, t.min_requests, t.max_error_rate)
    rate = candidate.error_rate
    failed = rate > t.max_error_rate
    counted = f"{candidate.server_errors:.0f}/{candidate.requests:.0f}"
    text = f"error rate {rate:.2%} ({counted}), limit {t.max_error_rate:.2%}"
    return Measurement("error_rate", F if failed else S, rate, t.max_error_rate, text)


def _drift(t: Thresholds, candidate: VersionWindow, baseline: VersionWindow | None) -> list[Measurement]:
    judged = []
    references = [("reference", UNIFORM, None)]
    if baseline is not None:
        references.append(("stable", baseline.percentiles, baseline))
    for against, expected, other in references:
        for name, measure, limit in (("psi", psi, t.max_psi), ("ks", ks, t.max_ks)):
            label = f"{name}_{against}"
            if candidate.rows < t.min_rows or (other is not None and other.rows < t.min_rows):
                have = min(candidate.rows, other.rows) if other is not None else candidate.rows
                judged.append(_few(label, "rows", have, t.min_rows, limit))
                continue
            value = measure(candidate.percentiles, expected)
            text = f"{label} {value:.3f}, limit {limit:g}"
            judged.append(Measurement(label, F if value > limit else S, value, limit, text))
    if baseline is not None:
        if candidate.rows < t.min_rows or baseline.rows < t.min_rows:
            have = min(candidate.rows, baseline.rows)
            judged.append(_few("anomaly_rate_delta", "rows", have, t.min_rows, t.max_anomaly_rate_delta))
        else:
            delta = candidate.anomaly_rate - baseline.anomaly_rate
            failed = abs(delta) > t.max_anomaly_rate_delta
            text = (
                f"anomaly rate {candidate.anomaly_rate:.2%} vs {baseline.anomaly_rate:.2%} "
                f"(delta {delta:+.2%}), limit {t.max_anomaly_rate_delta:.2%}"
            )
            judged.append(
                Measurement("anomaly_rate_delta", F if failed else S, delta, t.max_anomaly_rate_delta, text)
            )
    return judged


def _agreement(t: Thresholds, candidate: VersionWindow, baseline: VersionWindow | None) -> Measurement:
    agree = candidate.agree + (baseline.agree if baseline else 0.0)
    paired = agree + candidate.disagree + (baseline.disagree if baseline else 0.0)
    if paired < t.min_rows:
        return _few("agreement", "paired rows", paired, t.min_rows, t.min_agreement)
    share = agree / paired
    text = f"label agreement {share:.2%} over {paired:.0f} paired rows, minimum {t.min_agreement:.0%}"
    return Measurement("agreement", F if share < t.min_agreement else S, share, t.min_agreement, text)
