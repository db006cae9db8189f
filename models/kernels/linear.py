"""Scoring for PCA (weighted distances to the minor components) and OCSVM (kernel expansion)."""

import numba
import numpy as np

from models.kernels.reduce import pairwise_sum

LINEAR, POLY, RBF, SIGMOID = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True)
def _pca(X, mean, scale, components, weights):
    n_rows, n_features = X.shape
    n_components = components.shape[0]
    out = np.empty(n_rows)
    z = np.empty(n_features)
    terms = np.empty(n_components)
    for i in range(n_rows):
        for f in range(n_features):
            z[f] = (X[i, f] - mean[f]) / scale[f]
        for c in range(n_components):
            total = 0.0
            for f in range(n_features):
                diff = z[f] - components[c, f]
                total += diff * diff
            terms[c] = np.sqrt(total) / weights[c]
        out[i] = pairwise_sum(terms, 0, n_components)
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _powi(base, times):
    # libsvm's integer power, for bit-identical polynomial kernels
    result = 1.0
    t = times
    while t > 0:
        if t % 2 == 1:
            result *= base
        base = base * base
        t //= 2
    return result


@numba.njit(cache=True, nogil=True)
def _ocsvm(X, support, coef, intercept, kernel, gamma, coef0, degree):
    n_rows, n_features = X.shape
    out = np.empty(n_rows)
    for i in range(n_rows):
        total = 0.0
        for s in range(support.shape[0]):
            acc = 0.0
            if kernel == RBF:
                for f in range(n_features):
                    diff = X[i, f] - support[s, f]
                    acc += diff * diff
                value = np.exp(-gamma * acc)
            else:
                for f in range(n_features):
                    acc += X[i, f] * support[s, f]
                if kernel == LINEAR:
                    value = acc
                elif kernel == POLY:
                    value = _powi(gamma * acc + coef0, degree)
                else:
                    value = np.tanh(gamma * acc + coef0)
            total += coef[s] * value
        out[i] = -(total + intercept)
    return out


def score_pca(params: dict, X: np.ndarray) -> np.ndarray:
    """PyOD PCA scores: sum of distances to the selected components over their weights."""
    return _pca(X, params["mean"], params["scale"], params["components"], params["weights"])


def score_ocsvm(params: dict, X: np.ndarray) -> np.ndarray:
    """PyOD OCSVM scores: the negated one-class SVM decision function."""
    return _ocsvm(
        X,
        params["support"],
        params["coef"],
        float(params["intercept"]),
        int(params["kernel"]),
        float(params["gamma"]),
        float(params["coef0"]),
        int(params["degree"]),
    )
