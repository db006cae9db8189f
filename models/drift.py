"""Input drift: each feature's training-quantile bins, and how far served rows drift from them.

At training time every feature gets the inner edges of FEATURE_BINS bins that split its fit rows
into equal shares (`feature_edges`). A value falls in bin `b` = the number of edges at or below it
(`np.searchsorted(edges, value, side="right")`): bin 0 holds values below the first edge, the last
bin values at or above the last one. Tied quantiles (a constant or mostly constant feature) keep
one edge each, so such a feature has fewer bins: `len(edges) + 1`, numbered from 0, and its
training rows no longer fill them equally.

Served rows counted per bin are compared with the reference shares (equal shares by default) by
the population stability index and a Kolmogorov-Smirnov distance on the bins, both pure.
"""

from collections.abc import Mapping, Sequence

import numpy as np

FEATURE_BINS = 10
"""Bins per feature (`runtime.series.FEATURE_BIN_COUNT` exports them; a test keeps them equal)."""
SHARE_FLOOR = 1e-4
"""The share an empty bin counts as in the PSI, which is infinite for an empty bin otherwise."""


def feature_edges(X: np.ndarray, bins: int = FEATURE_BINS) -> list[list[float]]:
    """Per column of `X`, the distinct quantiles at 1/bins .. (bins-1)/bins, ascending (pure)."""
    quantiles = np.quantile(np.asarray(X, dtype=np.float64), np.arange(1, bins) / bins, axis=0)
    return [np.unique(quantiles[:, j]).tolist() for j in range(quantiles.shape[1])]


def bin_counts(names: Sequence[str], edges: Sequence[Sequence[float]] | None) -> dict[str, int] | None:
    """Each feature's number of bins (its inner edges + 1), by name in order; None without edges
    (a version published before features were binned) (pure)."""
    if edges is None:
        return None
    return {name: len(inner) + 1 for name, inner in zip(names, edges, strict=True)}


def bin_shares(counts_by_bucket: Mapping[str, float], n_bins: int) -> np.ndarray | None:
    """Rows per bin as shares of all rows, bins 0..n_bins-1 in order; None when no row was counted
    (pure). ValueError for a bucket name that is not a bin index below `n_bins`."""
    counts = np.zeros(n_bins)
    for bucket, rows in counts_by_bucket.items():
        index = int(bucket) if str(bucket).isdigit() else -1
        if not 0 <= index < n_bins:
            raise ValueError(f"bucket {bucket!r} is not a bin of this feature: expected 0..{n_bins - 1}")
        counts[index] += rows
    total = counts.sum()
    return counts / total if total > 0 else None


def _reference(n_bins: int, expected: Sequence[float] | None) -> np.ndarray:
    if expected is None:
        return np.full(n_bins, 1.0 / n_bins)
    reference = np.asarray(expected, dtype=np.float64)
    if reference.shape != (n_bins,) or (reference < 0).any() or not np.isclose(reference.sum(), 1.0):
        raise ValueError(f"expected shares must be {n_bins} non-negative numbers summing to 1")
    return reference


def feature_psi(
    counts_by_bucket: Mapping[str, float], n_bins: int, expected: Sequence[float] | None = None
) -> float | None:
    """The population stability index of served rows per bin against the reference shares
    (`expected`, equal by default): sum of (served - reference) * ln(served / reference), shares
    floored at SHARE_FLOOR. 0 for identical shares; above ~0.25 is commonly read as a shift. None
    when no row was counted (pure)."""
    served = bin_shares(counts_by_bucket, n_bins)
    if served is None:
        return None
    served = np.maximum(served, SHARE_FLOOR)
    reference = np.maximum(_reference(n_bins, expected), SHARE_FLOOR)
    return float(np.sum((served - reference) * np.log(served / reference)))


def feature_ks(
    counts_by_bucket: Mapping[str, float], n_bins: int, expected: Sequence[float] | None = None
) -> float | None:
    """The Kolmogorov-Smirnov distance on the bins: the largest gap between the cumulative shares of
    served rows and of the reference (`expected`, equal by default) at the bin edges, 0..1. A lower
    bound of the distance between the unbinned distributions. None when no row was counted (pure)."""
    served = bin_shares(counts_by_bucket, n_bins)
    if served is None:
        return None
    gaps = np.cumsum(served) - np.cumsum(_reference(n_bins, expected))
    return float(np.abs(gaps).max())
