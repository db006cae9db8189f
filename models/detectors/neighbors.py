"""KNN and LOF: the training rows plus what scoring needs (k, method, k-distances, densities)."""

from collections.abc import Mapping
from typing import Any

import numpy as np

from models.detectors.spec import Detector, Params
from models.errors import CompileError, InvalidSpec
from models.kernels.neighbors import LARGEST, MEAN, MEDIAN, neighbours, prepare

_METHODS = {"largest": LARGEST, "mean": MEAN, "median": MEDIAN}
_EUCLIDEAN = {"euclidean", "l2", "minkowski"}


def _check_euclidean(params: Mapping[str, Any]) -> None:
    metric = params.get("metric", "minkowski")
    p = params.get("p", 2)
    if metric not in _EUCLIDEAN or (metric == "minkowski" and p != 2):
        raise InvalidSpec(
            f"metric={metric!r} p={p!r} cannot be compiled: the compiled scorers use Euclidean "
            "distance; use metric=minkowski with p=2 (the default), 'euclidean' or 'l2'"
        )
    if params.get("metric_params") is not None:
        raise InvalidSpec("metric_params cannot be compiled; leave it unset")


def _check_knn(params: Mapping[str, Any]) -> None:
    _check_euclidean(params)
    method = params.get("method", "largest")
    if method not in _METHODS:
        raise InvalidSpec(f"method={method!r} is unknown; choose one of {sorted(_METHODS)}")


def _train_rows(estimator) -> np.ndarray:
    train = getattr(estimator, "_fit_X", None)
    if not isinstance(train, np.ndarray):
        raise CompileError("the fitted neighbours index has no dense training matrix to compile")
    return np.ascontiguousarray(train, dtype=np.float64)


def extract_knn(fitted) -> Params:
    """Training rows, k and the aggregation method."""
    return {
        "train": _train_rows(fitted.neigh_),
        "k": np.int64(fitted.n_neighbors),
        "method": np.int64(_METHODS[fitted.method]),
    }


def extract_lof(fitted) -> Params:
    """Training rows, k, each training row's k-distance and local reachability density."""
    lof = fitted.detector_
    k = int(lof.n_neighbors_)
    return {
        "train": _train_rows(lof),
        "k": np.int64(k),
        "k_distance": np.ascontiguousarray(lof._distances_fit_X_[:, k - 1], dtype=np.float64),
        "lrd": np.ascontiguousarray(lof._lrd, dtype=np.float64),
    }


def lof_ambiguous(params: Params, X: np.ndarray) -> np.ndarray:
    """Rows whose k-th and (k+1)-th nearest training rows are (nearly) equidistant.

    Which of them is a neighbour decides the row's LOF score, and scikit-learn's trees pick by
    traversal order, so the reference score of such a row is arbitrary; the compiled scorer
    picks the lower training index.
    """
    train, k = params["train"], int(params["k"])
    if k >= len(train):
        return np.zeros(len(X), dtype=bool)
    squared, _ = neighbours(X, prepare(params), k + 1)
    return squared[:, k] - squared[:, k - 1] <= 1e-9 * squared[:, k - 1]


_SEARCH = frozenset({"n_neighbors", "metric", "p", "metric_params", "algorithm", "leaf_size", "n_jobs"})

KNN = Detector(
    name="knn",
    reference="pyod.models.knn:KNN",
    parameters=_SEARCH | {"method"},
    extract=extract_knn,
    check=_check_knn,
)

LOF = Detector(
    name="lof",
    reference="pyod.models.lof:LOF",
    parameters=_SEARCH,
    extract=extract_lof,
    check=_check_euclidean,
    fixed={"novelty": True},
    ambiguous=lof_ambiguous,
)
