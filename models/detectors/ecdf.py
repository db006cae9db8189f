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


def _detector(name: str, reference: str, variant: int) -> Detector:
    return Detector(
        name=name,
        reference=reference,
        parameters=frozenset(),
        extract=_extractor(variant),
        fixed={"n_jobs": 1},
        row_at_a_time=True,
    )


ECOD = _detector("ecod", "pyod.models.ecod:ECOD", ECOD_VARIANT)
COPOD = _detector("copod", "pyod.models.copod:COPOD", COPOD_VARIANT)
