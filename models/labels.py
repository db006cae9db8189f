"""Labels: the anomaly decision at a version's threshold, the one definition every scorer uses.

A row is an anomaly (label 1) when its score is above the threshold, as PyOD decides; 0 otherwise.
Labels are int64, the dtype of PyOD's and scikit-learn's `predict`; encoders that send them in a
narrower type (the Arrow answer's int8 `label`) say so where they encode.
"""

import numpy as np


def anomaly_labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    """1 where a score is above `threshold`, 0 elsewhere (NaN included), as int64 (pure)."""
    return (np.asarray(scores) > threshold).astype(np.int64)
