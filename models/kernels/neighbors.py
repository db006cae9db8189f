"""Nearest-neighbour scoring for KNN and LOF: exact Euclidean distances, fast on large batches.

Distances are summed feature by feature (as scikit-learn's trees do) and neighbours are ordered by
(distance, training index). Small batches compute every distance exactly. Large batches first
screen with BLAS (|x|^2 + |t|^2 - 2 x.t, whose rounding error is bounded), then compute exact
distances only for the candidates that can still be among the k nearest: the same neighbours
and the same scores as the exact path, at GEMM speed.
"""

import numba
import numpy as np

from models.kernels.reduce import pairwise_sum

LARGEST, MEAN, MEDIAN = 0, 1, 2
_SCREEN_MIN_ROWS = 16
_CHUNK_BYTES = 16 * 2**20
_EPS = np.finfo(np.float64).eps


@numba.njit(cache=True, nogil=True, inline="always")
def _squared_distance(X, i, train, j):
    total = 0.0
    for f in range(X.shape[1]):
        diff = X[i, f] - train[j, f]
        total += diff * diff
    return total


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
def _exact_neighbours(X, train, k, out_d, out_i):
    for i in range(X.shape[0]):
        best_d = np.full(k, np.inf)
        best_i = np.full(k, -1)
        for j in range(train.shape[0]):
            _insert(best_d, best_i, _squared_distance(X, i, train, j), j)
        out_d[i] = best_d
        out_i[i] = best_i


@numba.njit(cache=True, nogil=True)
def _screened_neighbours(X, train, k, approx, row_norms, train_norms, out_d, out_i, row0):
    scale = 4.0 * (X.shape[1] + 4) * _EPS
    for r in range(approx.shape[0]):
        i = row0 + r
        upper = np.full(k, np.inf)
        dummy = np.empty(k, dtype=np.int64)
        for j in range(train.shape[0]):
            _insert(upper, dummy, approx[r, j] + scale * (row_norms[i] + train_norms[j]), j)
        bound = upper[k - 1]
        best_d = np.full(k, np.inf)
        best_i = np.full(k, -1)
        for j in range(train.shape[0]):
            if approx[r, j] - scale * (row_norms[i] + train_norms[j]) <= bound:
                _insert(best_d, best_i, _squared_distance(X, i, train, j), j)
        out_d[i] = best_d
        out_i[i] = best_i


def neighbours(X: np.ndarray, train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances and indices of the k nearest training rows of each row, nearest first."""
    out_d = np.empty((X.shape[0], k))
    out_i = np.empty((X.shape[0], k), dtype=np.int64)
    if X.shape[0] < _SCREEN_MIN_ROWS:
        _exact_neighbours(X, train, k, out_d, out_i)
        return out_d, out_i
    row_norms = np.einsum("ij,ij->i", X, X)
    train_norms = np.einsum("ij,ij->i", train, train)
    chunk = max(1, _CHUNK_BYTES // (8 * train.shape[0]))
    for row0 in range(0, X.shape[0], chunk):
        block = X[row0 : row0 + chunk]
        approx = row_norms[row0 : row0 + chunk, None] + train_norms[None, :] - 2.0 * (block @ train.T)
        _screened_neighbours(X, train, k, approx, row_norms, train_norms, out_d, out_i, row0)
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
    squared, _ = neighbours(X, params["train"], int(params["k"]))
    return _knn(squared, int(params["method"]))


def score_lof(params: dict, X: np.ndarray) -> np.ndarray:
    """PyOD LOF scores (local outlier factor against the training set) of rows `X`."""
    squared, indices = neighbours(X, params["train"], int(params["k"]))
    return _lof(squared, indices, params["k_distance"], params["lrd"])
