"""Every (detector, backend) pair reproduces its PyOD reference on every data set.

The compiled scorer is checked the way training checks it (the parity gate) and more strictly
where exactness is claimed, and its scores must not depend on how rows are batched.
"""

import numpy as np
import pytest

from models import backends, detectors
from models.parity import TOLERANCES, compare
from models.training import split

PAIRS = [
    (detector, backend)
    for detector in detectors.DETECTORS
    for backend, implementation in backends.BACKENDS.items()
    if implementation.supports(detector)
]
# PCA's default keeps every component; digits is rank-deficient (see test_training)
PARAMS = {"iforest": {"random_state": 0}, "pca": {"random_state": 0, "n_components": 0.95}}
# ONNX Runtime's MatMul picks GEMV or GEMM kernels by batch size: the last bits may differ
BATCH_RTOL = {("pca", "onnx"): 1e-12}
DATA = ["synthetic-6", "synthetic-20", "ties-5", "breast-cancer", "wine", "digits"]


def _compiled(detector_name, backend_name, X):
    detector = detectors.get(detector_name)
    fit_rows, holdout_rows = split(len(X), seed=0)
    reference = detectors.fit(detector, X[fit_rows], PARAMS.get(detector_name, {}), 0.1)
    backend = backends.get(backend_name)
    score = backend.load(
        detector_name, backend.compile(detector_name, detector.extract(reference), X.shape[1])
    )
    holdout = X[holdout_rows][:200] if detector.row_at_a_time else X[holdout_rows]
    return detector, reference, score, holdout, detector.extract(reference)


@pytest.mark.parametrize("data_name", DATA)
@pytest.mark.parametrize(("detector_name", "backend_name"), PAIRS, ids=[f"{d}-{b}" for d, b in PAIRS])
def test_compiled_scores_match_reference(data_sets, detector_name, backend_name, data_name):
    detector, reference, score, holdout, params = _compiled(detector_name, backend_name, data_sets[data_name])
    expected = detectors.reference_scores(detector, reference, holdout)
    got = score(holdout)
    ambiguous = detector.ambiguous(params, holdout) if detector.ambiguous else None
    report = compare(
        expected,
        got,
        float(reference.threshold_),
        TOLERANCES[detector_name],
        reference_name=detector.reference,
        mode="test",
        ambiguous=ambiguous,
    )
    assert report.passed, report.failures
    # batch independence: one row at a time scores as the whole batch (dynamic batching)
    singles = np.array([score(holdout[i : i + 1])[0] for i in range(0, len(holdout), 7)])
    np.testing.assert_allclose(
        singles, got[::7], rtol=BATCH_RTOL.get((detector_name, backend_name), 0), atol=0
    )


EXACT = [
    ("iforest", "numba"),
    ("ecod", "numba"),
    ("copod", "numba"),
    ("hbos", "numba"),
    ("knn", "numba"),
    ("lof", "numba"),
    ("pca", "numba"),
]


@pytest.mark.parametrize("data_name", ["synthetic-6", "wine"])
@pytest.mark.parametrize(("detector_name", "backend_name"), EXACT, ids=[f"{d}-{b}" for d, b in EXACT])
def test_bit_exact_where_the_reference_computes_exactly(data_sets, detector_name, backend_name, data_name):
    """At most 15 features scikit-learn's neighbour search is exact too, so every score is equal."""
    detector, reference, score, holdout, _ = _compiled(detector_name, backend_name, data_sets[data_name])
    np.testing.assert_array_equal(score(holdout), detectors.reference_scores(detector, reference, holdout))


@pytest.mark.parametrize("backend_name", ["numba", "onnx"])
def test_iforest_rows_on_split_thresholds(data_sets, backend_name):
    """scikit-learn rounds rows to float32 before comparing thresholds; rows on and beside every
    threshold land on the same side in the compiled scorer."""
    X = data_sets["synthetic-6"]
    detector = detectors.get("iforest")
    reference = detectors.fit(detector, X, {"random_state": 0, "n_estimators": 20}, 0.1)
    params = detector.extract(reference)
    backend = backends.get(backend_name)
    score = backend.load("iforest", backend.compile("iforest", params, X.shape[1]))
    split_nodes = np.flatnonzero(params["feature"] >= 0)[:300]
    rows = np.repeat(X[:1], 3 * len(split_nodes), axis=0)
    for n, node in enumerate(split_nodes):
        threshold, feature = params["threshold"][node], params["feature"][node]
        for k, value in enumerate(
            (threshold, np.nextafter(threshold, np.inf), np.nextafter(threshold, -np.inf))
        ):
            rows[3 * n + k, feature] = value
    expected = detectors.reference_scores(detector, reference, rows)
    np.testing.assert_allclose(score(rows), expected, rtol=0, atol=1e-15)
