"""Reference distributions and the percentile mapping used for drift."""

import numpy as np

from models.distribution import describe, percentiles


def test_describe_summarises_scores():
    scores = np.random.default_rng(0).normal(size=10_000)
    d = describe(scores, threshold=1.0)
    assert d.count == 10_000
    assert len(d.quantiles) == 101 and d.quantiles == sorted(d.quantiles)
    assert d.quantiles[0] == scores.min() and d.quantiles[-1] == scores.max()
    assert sum(d.histogram_counts) == 10_000 and len(d.histogram_edges) == 21
    assert abs(d.anomaly_rate - (scores > 1.0).mean()) < 1e-12


def test_percentiles_of_the_reference_itself_are_uniform():
    rng = np.random.default_rng(1)
    d = describe(rng.exponential(size=20_000), threshold=3.0)
    fresh = percentiles(d, rng.exponential(size=20_000))
    counts, _ = np.histogram(fresh, bins=10, range=(0, 1))
    assert counts.min() > 1700 and counts.max() < 2300


def test_percentiles_are_monotone_and_clipped():
    d = describe(np.arange(100.0), threshold=90.0)
    p = percentiles(d, np.array([-5.0, 0.0, 49.5, 99.0, 1e9]))
    assert p[0] == 0.0 and p[-1] == 1.0
    assert np.all(np.diff(p) >= 0)
    assert abs(p[2] - 0.5) < 0.01
