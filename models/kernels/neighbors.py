"""Nearest-neighbour scoring for KNN and LOF: exact Euclidean distances at BLAS speed.

Neighbours are ordered by (squared distance, training index), distances summed feature by
feature in float64 as scikit-learn's trees do. Each row is screened first: one float32 BLAS
product per block of rows gives |t|^2 - 2 x.t for every training row with a bounded rounding
error, and exact float64 distances are computed only for training rows whose screened lower
bound does not exceed the k-th best exact distance found so far. The result is the exact
search's, neighbour for neighbour.
"""

import numba
import numpy as np

from models.kernels.reduce import pairwise_sum

LARGEST, MEAN, MEDIAN = 0, 1, 2
_ROWS_PER_PRODUCT = 64


def _slack(n_features: int) -> float:
    # bound on the float32 screen's error relative to |x|^2 + |t|^2 (rounding of x, t, |t|^2
    # and of a dot product of n_features terms), with 4x to spare
    return 2.0 * (n_features + 8) * float(np.finfo(np.float32).eps)


def prepare(params: dict) -> dict:
    """Add the screen: rows -2t (transposed) and (1 - slack)|t|^2, in float32."""
    train = params["train"]
    n_rows, n_features = train.shape
    screen = np.empty((n_features + 1, n_rows), dtype=np.float32)
    screen[:n_features] = (-2.0 * train).T
    screen[n_features] = (1.0 - _slack(n_features)) * np.einsum("ij,ij->i", train, train)
    return {**params, "screen": screen}


@numba.njit(cache=True, nogil=True, inline="always")
def _insert(best_d, best_i, value, index):
    # keep the k smallest (value, index) pairs sorted; indices arrive in increasing order
    k = best_d.shape[0]
    if value >= best_d[k - 1]:
        return
    position = k - 1
    while position > 0 and best_d[position - 1] > value:
        best_d[position] = best_d[position - 1]
        best_i[position] = best_i[position - 1]
        position -= 1
    best_d[position] = value
    best_i[position] = index


@numba.njit(cache=True, nogil=True)
def _scan(X, first_row, screened, train, slack, k, out_d, out_i):
    # screened[r, j] + |x|^2 - slack |x|^2 <= d^2(x, t_j): skip j while it exceeds the k-th best
    n_train, n_features = train.shape
    best_d = np.empty(k)
    best_i = np.empty(k, dtype=np.int64)
    for r in range(screened.shape[0]):
        i = first_row + r
        row_norm = 0.0
        for f in range(n_features):
            row_norm += X[i, f] * X[i, f]
        best_d[:] = np.inf
        best_i[:] = -1
        bound = np.float32(np.inf)
        lower = screened[r]
        for j in range(n_train):
            if lower[j] > bound:
                continue
            total = 0.0
            for f in range(n_features):
                diff = X[i, f] - train[j, f]
                total += diff * diff
            if total < best_d[k - 1]:
                _insert(best_d, best_i, total, j)
                if best_d[k - 1] < np.inf:
                    shifted = np.float32(best_d[k - 1] - row_norm + slack * row_norm)
                    bound = np.nextafter(shifted, np.float32(np.inf))
        out_d[i] = best_d
        out_i[i] = best_i


def neighbours(X: np.ndarray, params: dict, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances and indices of the k nearest training rows of each row, nearest first."""
    train, screen = params["train"], params["screen"]
    out_d = np.empty((X.shape[0], k))
    out_i = np.empty((X.shape[0], k), dtype=np.int64)
    augmented = np.ones((X.shape[0], X.shape[1] + 1), dtype=np.float32)
    augmented[:, :-1] = X
    slack = _slack(X.shape[1])
    for first in range(0, X.shape[0], _ROWS_PER_PRODUCT):
        screened = augmented[first : first + _ROWS_PER_PRODUCT] @ screen
        _scan(X, first, screened, train, slack, k, out_d, out_i)
    return out_d, out_i


@numba.njit(cache=True, nogil=True)
def _knn(squared, method):
    n_rows, k = squared.shape
    out = np.empty(n_rows)
    distances = np.empty(k)
    for i in range(n_rows):
        for j in range(k):
            distances[j] = np.sqrt(squared[i, j])
        if method == LARGEST:
            out[i] = distances[k - 1]
        elif method == MEAN:
            out[i] = pairwise_sum(distances, 0, k) / k
        elif k % 2 == 1:
            out[i] = distances[k // 2]
        else:
            out[i] = (distances[k // 2 - 1] + distances[k // 2]) / 2.0
    return out


@numba.njit(cache=True, nogil=True)
def _lof(squared, indices, k_distance, lrd):
    n_rows, k = squared.shape
    out = np.empty(n_rows)
    reach = np.empty(k)
    ratios = np.empty(k)
    for i in range(n_rows):
        for j in range(k):
            reach[j] = max(np.sqrt(squared[i, j]), k_distance[indices[i, j]])
        row_lrd = 1.0 / (pairwise_sum(reach, 0, k) / k + 1e-10)
        for j in range(k):
            ratios[j] = lrd[indices[i, j]] / row_lrd
        out[i] = pairwise_sum(ratios, 0, k) / k
    return out


def score_knn(params: dict, X: np.ndarray) -> np.ndarray:
    """PyOD KNN scores (distance to the k-th neighbour, or mean/median of the k) of rows `X`."""
    squared, _ = neighbours(X, params, int(params["k"]))
    return _knn(squared, int(params["method"]))


def score_lof(params: dict, X: np.ndarray) -> np.ndarray:
    """PyOD LOF scores (local outlier factor against the training set) of rows `X`."""
    squared, indices = neighbours(X, params, int(params["k"]))
    return _lof(squared, indices, params["k_distance"], params["lrd"])
