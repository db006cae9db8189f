"""HBOS scoring: per-feature histogram densities, exactly as PyOD's HBOS (fixed or "auto" bins)."""

import numba
import numpy as np

from models.kernels.reduce import pairwise_sum


@numba.njit(cache=True, nogil=True)
def _score(X, edges, log_density, min_log_density, n_bins, tol):
    n_rows, n_features = X.shape
    out = np.empty(n_rows)
    per_feature = np.empty(n_features)
    for i in range(n_rows):
        for f in range(n_features):
            x = X[i, f]
            bins = n_bins[f]
            # np.digitize(x, edges, right=True) == searchsorted(edges, x, side="left")
            index = np.searchsorted(edges[f, : bins + 1], x, side="left")
            if index == 0:
                distance = edges[f, 0] - x
                width = edges[f, 1] - edges[f, 0]
                value = log_density[f, 0] if distance <= width * tol else min_log_density[f]
            elif index == bins + 1:
                distance = x - edges[f, bins]
                width = edges[f, bins] - edges[f, bins - 1]
                value = log_density[f, bins - 1] if distance <= width * tol else min_log_density[f]
            else:
                value = log_density[f, index - 1]
            per_feature[f] = value
        out[i] = pairwise_sum(per_feature, 0, n_features) * -1.0
    return out


def score(params: dict, X: np.ndarray) -> np.ndarray:
    """HBOS scores (higher = more anomalous) of float64 rows `X`."""
    return _score(
        X,
        params["edges"],
        params["log_density"],
        params["min_log_density"],
        params["n_bins"],
        float(params["tol"]),
    )
