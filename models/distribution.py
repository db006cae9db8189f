"""The reference score distribution of a model version, and where new scores fall in it.

Scores of different detectors live on different scales; a score's percentile in its own
version's reference distribution does not, so drift of any model is measured on the same 0-1
buckets.
"""

import numpy as np
from pydantic import BaseModel, ConfigDict

from models.labels import anomaly_labels

LEVELS = np.linspace(0.0, 1.0, 101)
HISTOGRAM_BINS = 20


class ScoreDistribution(BaseModel):
    """Quantiles (at 0%, 1%, ..., 100%) and a histogram of held-out scores."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int
    mean: float
    std: float
    anomaly_rate: float
    """Share of held-out rows above the threshold."""
    quantiles: list[float]
    histogram_edges: list[float]
    histogram_counts: list[int]


def describe(scores: np.ndarray, threshold: float) -> ScoreDistribution:
    """Summarise held-out `scores` (pure)."""
    counts, edges = np.histogram(scores, bins=HISTOGRAM_BINS)
    return ScoreDistribution(
        count=int(scores.size),
        mean=float(scores.mean()),
        std=float(scores.std()),
        anomaly_rate=float(anomaly_labels(scores, threshold).mean()),
        quantiles=[float(q) for q in np.quantile(scores, LEVELS)],
        histogram_edges=[float(e) for e in edges],
        histogram_counts=[int(c) for c in counts],
    )


def percentiles(distribution: ScoreDistribution, scores: np.ndarray) -> np.ndarray:
    """Each score's position (0-1) in the reference distribution, interpolated between quantiles."""
    return np.interp(np.asarray(scores, dtype=np.float64), distribution.quantiles, LEVELS)
