"""ECOD and COPOD: sorted training columns and moments for inductive, batch-independent scoring."""

import numpy as np

from models.detectors.spec import Detector, Params
from models.kernels.ecdf import COPOD as COPOD_VARIANT
from models.kernels.ecdf import ECOD as ECOD_VARIANT


def _extractor(variant: int):
    def extract(fitted) -> Params:
        """Sorted training columns (features x rows) and central moment sums per feature."""
        train = np.asarray(fitted.X_train, dtype=np.float64)
        mean = train.mean(axis=0)
        deviation = train - mean
        return {
            "sorted_columns": np.ascontiguousarray(np.sort(train, axis=0).T),
            "mean": mean,
            "m2": (deviation**2).sum(axis=0),
            "m3": (deviation**3).sum(axis=0),
            "variant": np.int64(variant),
        }

    return extract


ECOD = Detector(
    name="ecod",
    reference="pyod.models.ecod:ECOD",
    parameters=frozenset(),
    extract=_extractor(ECOD_VARIANT),
    fixed={"n_jobs": 1},
    row_at_a_time=True,
)

COPOD = Detector(
    name="copod",
    reference="pyod.models.copod:COPOD",
    parameters=frozenset(),
    extract=_extractor(COPOD_VARIANT),
    fixed={"n_jobs": 1},
    row_at_a_time=True,
)
