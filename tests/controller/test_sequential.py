"""Confidence sequences and the judges built on them: they hold at every look, and a healthy
candidate, looked at again and again, fails at most with alpha (simulated here at small scale; the
benchmark runs 1,000 canaries per setting)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.analysis.judges import Arms
from controller.analysis.regressions import names, rejects
from controller.analysis.sequential import count_band, quantile_interval, share_interval, smallest_alpha
from controller.analysis.thresholds import Thresholds
from controller.analysis.window import VersionWindow
from runtime.series import LATENCY_MS, PERCENTILE_EDGES

BOUNDS = [*LATENCY_MS, math.inf]


def test_a_share_interval_holds_its_estimate_and_narrows_with_evidence():
    assert share_interval(0, 0, 0.01) == (0.0, 1.0)
    low, high = share_interval(30, 100, 0.01)
    assert low < 0.3 < high
    narrower = share_interval(300, 1000, 0.01)
    assert low < narrower[0] and narrower[1] < high
    assert share_interval(0, 100, 0.01)[0] == 0.0 and share_interval(100, 100, 0.01)[1] == 1.0
    wider = share_interval(30, 100, 0.0001)
    assert wider[0] < low and high < wider[1]


def test_the_count_band_of_a_quantile_surrounds_its_expected_count():
    low, high = count_band(0.5, 1000, 0.01)
    assert low < 500 < high and high - low < 200
    assert count_band(0.99, 50, 0.01)[1] == math.inf  # 50 trials cannot show too few above a p99


def test_a_quantile_interval_is_made_of_bucket_edges_around_the_quantile():
    bounds, cumulative = [1.0, 2.0, 4.0, 8.0, math.inf], [0.0, 100.0, 900.0, 1000.0, 1000.0]
    low, high = quantile_interval(0.5, bounds, cumulative, 0.01)
    assert (low, high) == (2.0, 4.0)
    assert quantile_interval(0.5, bounds, [0.0] * 5, 0.01) == (0.0, math.inf)


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.03, 0.03), (1e-6, 1e-6), (2.0, 1.0), (0.0, 1e-12)],
    ids=["inside", "small", "never-rejects", "always-rejects"],
)
def test_smallest_alpha_finds_where_a_monotone_test_starts_rejecting(threshold, expected):
    found = smallest_alpha(lambda a: a >= threshold if threshold < 1 else False)
    assert found == pytest.approx(expected, rel=1e-3)


@settings(max_examples=8, deadline=None)
@given(p=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1))
def test_a_share_interval_holds_the_truth_at_every_look(p, seed):
    alpha, runs, looks = 0.1, 200, 400
    draws = np.random.default_rng(seed).random((runs, looks)) < p
    successes = np.cumsum(draws, axis=1)
    missed = 0
    for run in successes:
        for n in range(10, looks + 1, 10):
            low, high = share_interval(float(run[n - 1]), float(n), alpha)
            if not low <= p <= high:
                missed += 1
                break
    assert missed / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


@settings(max_examples=8, deadline=None)
@given(q=st.sampled_from([0.5, 0.9, 0.99]), sigma=st.floats(0.2, 1.5), seed=st.integers(0, 2**32 - 1))
def test_a_quantile_interval_holds_the_true_quantile_at_every_look(q, sigma, seed):
    alpha, runs = 0.1, 100
    rng = np.random.default_rng(seed)
    truth = math.exp(sigma * {0.5: 0.0, 0.9: 1.2816, 0.99: 2.3263}[q]) * 10.0
    missed = 0
    for _ in range(runs):
        latencies = rng.lognormal(math.log(10.0), sigma, 2000)
        for n in (50, 100, 200, 500, 1000, 2000):
            cumulative = np.searchsorted(np.sort(latencies[:n]), BOUNDS, side="right").astype(float)
            low, high = quantile_interval(q, BOUNDS, list(cumulative), alpha)
            if not low <= truth <= high:
                missed += 1
                break
    assert missed / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


def _histogram(requests: list[tuple[float, float, bool]]) -> VersionWindow:
    latencies, scores, errors = (np.array(column) for column in zip(*requests, strict=True))
    cumulative = np.searchsorted(np.sort(latencies), BOUNDS, side="right").astype(float)
    buckets = np.minimum(np.searchsorted(PERCENTILE_EDGES, scores, side="left"), 19)
    return VersionWindow(
        requests=len(latencies), server_errors=float(errors.sum()), latency_bounds=BOUNDS,
        latency_cumulative=list(cumulative), rows=len(scores), anomalies=float(np.sum(scores > 0.95)),
        percentiles=np.bincount(buckets, minlength=20).astype(float),
    )  # fmt: skip


@settings(max_examples=6, deadline=None)
@given(
    share=st.sampled_from([0.1, 0.5]),
    sigma=st.floats(0.3, 1.2),
    error_rate=st.sampled_from([0.0, 0.002]),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_healthy_candidate_fails_a_judge_at_most_with_alpha_over_many_looks(share, sigma, error_rate, seed):
    """Both versions draw latencies, scores and errors from the same distributions; every judge
    looks after each batch of requests. No judge may fail in more than alpha of the runs."""
    alpha, runs, looks, per_look = 0.1, 40, 12, 100
    rng = np.random.default_rng(seed)
    thresholds = Thresholds()
    failed = 0
    for _ in range(runs):
        arms = {True: [], False: []}  # each request: latency, score percentile, server error
        for _ in range(looks):
            for candidate in rng.random(per_look) < share:
                request = (rng.lognormal(math.log(8.0), sigma), rng.random(), rng.random() < error_rate)
                arms[bool(candidate)].append(request)
            if not arms[True] or not arms[False]:
                continue
            pair = Arms(_histogram(arms[True]), _histogram(arms[False]))
            if any(rejects(n, thresholds, pair, alpha) for n in names(True, False)):
                failed += 1
                break
    assert failed / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
