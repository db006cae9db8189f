"""Counting feature values in their bins and outside their range, in one pass over a batch.

Each value's bin is the number of its feature's edges at or below it (what
`np.searchsorted(edges, value, side="right")` returns, as `models.drift` defines the bins). Every
edge is compared, without a branch (padding edges are +inf, never at or below a value): on 1,000
rows of 20 features ~40 us, against ~75 us for a binary search, ~100 us for a scan that stops at
the first edge above, and ~330 us for one `np.searchsorted` and `np.bincount` per feature
(measured); about 1 us for a single row, against ~20 us.
"""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def count_inputs(
    rows: np.ndarray,
    edges: np.ndarray,
    offsets: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    bins: np.ndarray,
    outside: np.ndarray,
) -> None:
    """Add to `bins[offsets[j] + b]` the rows whose feature j falls in bin b (`edges[j]` ascending,
    padded with +inf), and to `outside[j]` those below low[j] or above high[j]; in place."""
    width = edges.shape[1]
    for i in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            value = rows[i, j]
            b = 0
            for k in range(width):
                b += value >= edges[j, k]
            bins[offsets[j] + b] += 1
            outside[j] += (value < low[j]) | (value > high[j])
