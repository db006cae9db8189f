"""PCA and OCSVM: linear-algebra detectors reduced to a few dense arrays."""

from collections.abc import Mapping
from typing import Any

import numpy as np

from models.detectors.spec import Detector, Params
from models.errors import InvalidSpec
from models.kernels.linear import LINEAR, POLY, RBF, SIGMOID

_KERNELS = {"linear": LINEAR, "poly": POLY, "rbf": RBF, "sigmoid": SIGMOID}


def extract_pca(fitted) -> Params:
    """Standardisation, the selected (minor) components and their weights."""
    weights = np.asarray(fitted.selected_w_components_, dtype=np.float64)
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise InvalidSpec(
            "pca: some selected components explain zero variance (the data is rank-deficient), "
            "so every score would be infinite; set --param n_components=K with K below the data's "
            "rank, or --param weighted=false"
        )
    n_features = fitted.selected_components_.shape[1]
    if fitted.standardization:
        mean, scale = fitted.scaler_.mean_, fitted.scaler_.scale_
    else:
        mean, scale = np.zeros(n_features), np.ones(n_features)
    return {
        "mean": np.asarray(mean, dtype=np.float64),
        "scale": np.asarray(scale, dtype=np.float64),
        "components": np.ascontiguousarray(fitted.selected_components_, dtype=np.float64),
        "weights": weights,
    }


def _check_ocsvm(params: Mapping[str, Any]) -> None:
    kernel = params.get("kernel", "rbf")
    if kernel not in _KERNELS:
        raise InvalidSpec(f"kernel={kernel!r} cannot be compiled; choose one of {sorted(_KERNELS)}")


def extract_ocsvm(fitted) -> Params:
    """Support vectors, dual coefficients, intercept and the kernel's constants."""
    svm = fitted.detector_
    return {
        "support": np.ascontiguousarray(svm.support_vectors_, dtype=np.float64),
        "coef": np.ascontiguousarray(svm.dual_coef_[0], dtype=np.float64),
        "intercept": np.float64(svm.intercept_[0]),
        "kernel": np.int64(_KERNELS[svm.kernel]),
        "gamma": np.float64(svm._gamma),
        "coef0": np.float64(svm.coef0),
        "degree": np.int64(svm.degree),
    }


PCA = Detector(
    name="pca",
    reference="pyod.models.pca:PCA",
    parameters=frozenset(
        {
            "n_components",
            "n_selected_components",
            "whiten",
            "svd_solver",
            "tol",
            "iterated_power",
            "random_state",
            "weighted",
            "standardization",
        }
    ),
    extract=extract_pca,
)

OCSVM = Detector(
    name="ocsvm",
    reference="pyod.models.ocsvm:OCSVM",
    parameters=frozenset(
        {"kernel", "degree", "gamma", "coef0", "tol", "nu", "shrinking", "cache_size", "max_iter"}
    ),
    extract=extract_ocsvm,
    check=_check_ocsvm,
)
