"""The backend seam: how a detector's parameters become an artifact and the artifact a scorer."""

from collections.abc import Callable
from typing import Protocol

import numpy as np

Params = dict[str, np.ndarray]
"""Backend-neutral compiled parameters: named float64/int64 arrays (scalars as 0-d arrays), what a
detector extracts and a backend compiles (defined here so that scoring never imports the detectors)."""

ScoreFn = Callable[[np.ndarray], np.ndarray]
"""Scores of validated float64, C-contiguous rows; higher is more anomalous."""


class Backend(Protocol):
    """A compiler for detector parameters (Numba, ONNX Runtime, ...)."""

    name: str
    artifact: str
    """File name of the artifact in a model version (`params.npz`, `model.onnx`)."""

    def supports(self, detector: str) -> bool:
        """Whether this backend can compile the named detector."""

    def compile(self, detector: str, params: Params, n_features: int) -> bytes:
        """Serialise the detector's parameters into this backend's artifact."""

    def load(self, detector: str, artifact: bytes) -> ScoreFn:
        """A scoring function over the artifact; needs neither PyOD nor scikit-learn."""
