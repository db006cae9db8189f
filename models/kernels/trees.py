"""Isolation-forest scoring over flattened trees, exactly as scikit-learn's IsolationForest.

scikit-learn compares float32(x) with float64 thresholds, so rows are rounded to float32 before
each comparison; leaf values already hold `depth + c(n_leaf) - 1`, summed over trees in order.
The final `2 ** -(depth / c)` is left to NumPy: its vectorised pow rounds differently from libm's.
"""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _depths(X, feature, threshold, left, right, value, roots):
    n_rows = X.shape[0]
    out = np.empty(n_rows)
    for i in range(n_rows):
        depth = 0.0
        for t in range(roots.shape[0]):
            node = roots[t]
            while feature[node] >= 0:
                x = np.float64(np.float32(X[i, feature[node]]))
                node = left[node] if x <= threshold[node] else right[node]
            depth += value[node]
        out[i] = depth
    return out


def score(params: dict, X: np.ndarray) -> np.ndarray:
    """PyOD IForest scores (higher = more anomalous) of float64 rows `X`."""
    depths = _depths(
        X,
        params["feature"],
        params["threshold"],
        params["left"],
        params["right"],
        params["value"],
        params["roots"],
    )
    return 2 ** (-(depths / params["denominator"])) + params["offset"]
