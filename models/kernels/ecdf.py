"""ECOD and COPOD scored inductively: each row against the training ECDFs plus itself.

PyOD's ECOD/COPOD are transductive: `decision_function(X)` re-sorts train + X, so a row's score
depends on its batch-mates. Served scores must not depend on dynamic batching, so each row is
scored as PyOD scores a batch of one (train + that row): the ECDF counts come from binary search
over the sorted training columns, and the skewness sign from the training moments updated with
the row. This reproduces `decision_function(row)` exactly, one row at a time.
"""

import numba
import numpy as np

ECOD = 0
COPOD = 1
_EPS = np.finfo(np.float64).eps


@numba.njit(cache=True, nogil=True, inline="always")
def _probability(count, n_total, start, step):
    # numpy.linspace(1/N, 1, N)[count - 1], the value PyOD's column_ecdf assigns
    if count == n_total:
        return 1.0
    return float(count - 1) * step + start


@numba.njit(cache=True, nogil=True, inline="always")
def _skew_sign(x, n, mean, m2, m3):
    # moments of train + x (Pebay's update with a one-row batch), then scipy.stats.skew's sign
    n_total = n + 1.0
    delta = x - mean
    new_mean = mean + delta / n_total
    new_m2 = m2 + delta * delta * n / n_total
    new_m3 = m3 + delta * delta * delta * n * (n - 1.0) / (n_total * n_total) - 3.0 * delta * m2 / n_total
    if new_m2 / n_total <= (_EPS * new_mean) ** 2:
        return 0.0  # scipy returns nan for constant columns; PyOD turns it into 0
    if new_m3 > 0.0:
        return 1.0
    if new_m3 < 0.0:
        return -1.0
    return 0.0


@numba.njit(cache=True, nogil=True)
def _tails(X, sorted_columns, mean, m2, m3):
    n_rows, n_features = X.shape
    n_train = sorted_columns.shape[1]
    n_total = n_train + 1
    start = 1.0 / n_total
    step = (1.0 - start) / (n_total - 1)
    left = np.empty((n_rows, n_features))
    right = np.empty((n_rows, n_features))
    skewness = np.empty((n_rows, n_features))
    for i in range(n_rows):
        for f in range(n_features):
            x = X[i, f]
            column = sorted_columns[f]
            below_or_equal = np.searchsorted(column, x, side="right") + 1
            above_or_equal = n_train - np.searchsorted(column, x, side="left") + 1
            left[i, f] = _probability(below_or_equal, n_total, start, step)
            right[i, f] = _probability(above_or_equal, n_total, start, step)
            skewness[i, f] = _skew_sign(x, float(n_train), mean[f], m2[f], m3[f])
    return left, right, skewness


def score(params: dict, X: np.ndarray) -> np.ndarray:
    """ECOD/COPOD scores of float64 rows `X`, each row scored as a batch of one."""
    left, right, skewness = _tails(X, params["sorted_columns"], params["mean"], params["m2"], params["m3"])
    # the rest is PyOD's own NumPy arithmetic: NumPy's vectorised log rounds unlike libm's
    u_left = -1 * np.log(left)
    u_right = -1 * np.log(right)
    u_skew = u_left * -1 * np.sign(skewness - 1) + u_right * np.sign(skewness + 1)
    if int(params["variant"]) == ECOD:
        tails = np.maximum(u_skew, np.maximum(u_left, u_right))
    else:
        tails = np.maximum(u_skew, np.add(u_left, u_right) / 2)
    return tails.sum(axis=1)
