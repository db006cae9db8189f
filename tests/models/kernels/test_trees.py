"""Both forest layouts of the Numba kernel score exactly as scikit-learn."""

import numpy as np
import pytest

from models import detectors
from models.kernels import trees


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    return np.ascontiguousarray(rng.normal(size=(6000, 5)) @ rng.normal(size=(5, 5)))


@pytest.mark.parametrize(
    ("max_samples", "layout"),
    [
        pytest.param("auto", "leaf", id="shallow-complete-layout"),
        pytest.param(5000, "feature", id="deep-pointer-layout"),
    ],
)
def test_layouts_match_the_reference(rows, max_samples, layout):
    detector = detectors.get("iforest")
    reference = detectors.fit(
        detector, rows, {"random_state": 1, "n_estimators": 25, "max_samples": max_samples}, 0.1
    )
    prepared = trees.prepare(detector.extract(reference))
    assert layout in prepared
    queries = rows[:1500] * 1.5
    np.testing.assert_array_equal(trees.score(prepared, queries), reference.decision_function(queries))


@pytest.mark.parametrize(
    "threshold",
    [1.0, 0.1, -0.1, np.float64(np.float32(0.1)), 1e-30, -1e30],
)
def test_float32_thresholds_keep_every_comparison(threshold):
    t32 = trees._threshold32(threshold)
    candidates = np.float32(threshold) + np.array([-2, -1, 0, 1, 2], dtype=np.float32) * np.spacing(
        np.float32(threshold)
    )
    for x in candidates.astype(np.float32):
        assert (np.float64(x) <= threshold) == (x <= t32)
