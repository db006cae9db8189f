"""The parity gate trains every registered pair and fails naming the pairs outside tolerance."""

import pytest

from benchmarks.gates.parity import Check, check, failures, pairs, synthetic
from models import backends, detectors
from models.parity import TOLERANCES, ParityReport
from models.store import ModelStore
from tests.tables import write_features


def _report(passed: bool, failures: list[str]) -> ParityReport:
    return ParityReport(
        reference="pyod.models.knn.KNN",
        mode="batch",
        rows=400,
        ambiguous_rows=0,
        max_abs_diff=0.0,
        score_range=1.0,
        max_relative_diff=0.0 if passed else 1e-3,
        spearman=1.0,
        label_flips=0,
        tolerance=TOLERANCES["knn"],
        passed=passed,
        failures=failures,
    )


def test_every_detector_is_checked_on_every_backend_that_compiles_it():
    listed = pairs()
    assert {d for d, _ in listed} == set(detectors.DETECTORS)
    for detector in detectors.DETECTORS:
        able = {name for name, b in backends.BACKENDS.items() if b.supports(detector)}
        assert {b for d, b in listed if d == detector} == able
    assert ("iforest", "onnx") in listed and ("ecod", "onnx") not in listed


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        pytest.param([Check("knn", "numba", _report(True, []))], [], id="within-tolerance-passes"),
        pytest.param(
            [Check("knn", "numba", _report(False, ["max relative difference 0.001 > 1e-07"]))],
            ["knn/numba: max relative difference 0.001 > 1e-07"],
            id="outside-tolerance-named",
        ),
        pytest.param(
            [Check("pca", "onnx", None, "CompileError: no graph")],
            ["pca/onnx: CompileError: no graph"],
            id="error-before-a-report-named",
        ),
    ],
)
def test_failures_name_each_failing_pair(checks, expected):
    assert failures(checks) == expected


def test_a_pair_is_trained_through_the_training_path(tmp_path):
    data = write_features(tmp_path / "train.csv", synthetic(300, 5, seed=0))
    store = ModelStore(str(tmp_path / "models"), keys=tmp_path / "keys")
    result = check("hbos", "numba", data, store)
    assert result.passed and result.report.rows == 60
    assert store.versions("hbos-numba") == [1]


def test_a_pair_that_cannot_be_trained_fails_with_the_error(tmp_path):
    data = write_features(tmp_path / "train.csv", synthetic(300, 5, seed=0))
    store = ModelStore(str(tmp_path / "models"), keys=tmp_path / "keys")
    result = check("lof", "onnx", data, store)
    assert not result.passed and result.report is None and "CompileError" in result.error
