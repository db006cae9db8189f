"""Detectors by name: the registry, fitting the PyOD reference, and reference scoring.

The reference for every detector is the PyOD class of that name, trained with the user's
parameters. PyOD's convention is the project's: higher scores are more anomalous, `threshold_`
comes from the contamination, label 1 means anomaly.
"""

import importlib
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from models.detectors.ecdf import COPOD, ECOD
from models.detectors.hbos import HBOS
from models.detectors.iforest import IFOREST
from models.detectors.linear import OCSVM, PCA
from models.detectors.neighbors import KNN, LOF
from models.detectors.spec import Detector, Params
from models.errors import InvalidInput, InvalidSpec

DETECTORS: dict[str, Detector] = {
    "iforest": IFOREST,
    "ecod": ECOD,
    "copod": COPOD,
    "hbos": HBOS,
    "knn": KNN,
    "lof": LOF,
    "pca": PCA,
    "ocsvm": OCSVM,
}

__all__ = [
    "DETECTORS",
    "Detector",
    "Params",
    "check_training_scores",
    "fit",
    "get",
    "reference_scores",
    "validate_params",
]


def get(name: str) -> Detector:
    """The detector registered under `name`; InvalidSpec listing the choices otherwise."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise InvalidSpec(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}") from None


def validate_params(detector: Detector, params: Mapping[str, Any], contamination: float) -> None:
    """Refuse unknown parameters and values the compiled scorers cannot honour (pure)."""
    if not 0.0 < contamination <= 0.5:
        raise InvalidSpec(f"contamination must be in (0, 0.5], got {contamination}")
    unknown = sorted(set(params) - detector.parameters)
    if unknown:
        valid = ", ".join(sorted(detector.parameters)) or "none"
        raise InvalidSpec(
            f"unknown parameter(s) {', '.join(unknown)} for detector {detector.name}; valid: {valid}"
            + ("; pass contamination with --contamination" if "contamination" in unknown else "")
        )
    detector.check(params)


def fit(detector: Detector, X: np.ndarray, params: Mapping[str, Any], contamination: float):
    """Fit the PyOD reference on `X`; its own parameter errors become InvalidSpec."""
    validate_params(detector, params, contamination)
    module, name = detector.reference.split(":")
    cls = getattr(importlib.import_module(module), name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (FutureWarning, DeprecationWarning, RuntimeWarning))
            model = cls(contamination=contamination, **{**params, **detector.fixed})
            model.fit(X)
    except (ValueError, TypeError, AssertionError) as e:
        raise InvalidSpec(f"{detector.name}: the reference {name} refused the parameters: {e}") from e
    return model


def check_training_scores(detector: Detector, model) -> None:
    """InvalidInput if the reference's own training scores are not all finite."""
    if not np.all(np.isfinite(np.asarray(model.decision_scores_))):
        raise InvalidInput(
            f"{detector.name}: the reference produced non-finite training scores; check the data "
            "for constant or duplicated columns, or change the parameters"
        )


def reference_scores(detector: Detector, model, X: np.ndarray) -> np.ndarray:
    """Reference scores of `X`: one row at a time for transductive detectors (ECOD, COPOD)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (FutureWarning, DeprecationWarning, RuntimeWarning))
        if detector.row_at_a_time:
            return np.array([model.decision_function(X[i : i + 1])[0] for i in range(len(X))])
        return np.asarray(model.decision_function(X), dtype=np.float64)
