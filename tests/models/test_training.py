"""Training publishes a complete, reproducible version, or refuses and publishes nothing."""

import hashlib

import numpy as np
import pytest
from pyod.models.iforest import IForest

from models import detectors
from models.errors import InvalidInput, InvalidSpec, ParityFailed
from models.parity import TOLERANCES, Tolerance
from models.store import ModelStore
from models.training import TrainRequest, split, train
from tests.tables import write_features


@pytest.fixture
def data_file(tmp_path, data_sets):
    X = data_sets["synthetic-6"]
    path = tmp_path / "train.csv"
    write_features(path, X)
    return str(path), X


def test_publishes_a_complete_manifest(store_uri, data_file):
    path, X = data_file
    manifest = train(TrainRequest("fraud", "iforest", path, 0.05, {"random_state": 3}), ModelStore(store_uri))
    fit_rows, holdout_rows = split(len(X), seed=3)
    reference = IForest(contamination=0.05, random_state=3).fit(X[fit_rows])
    assert manifest.threshold == reference.threshold_
    assert (manifest.model, manifest.version, manifest.detector, manifest.backend) == (
        "fraud",
        1,
        "iforest",
        "numba",
    )
    assert manifest.feature_names == [f"f{j}" for j in range(6)] and manifest.n_features == 6
    assert manifest.training.fit_rows == len(fit_rows) and manifest.training.holdout_rows == len(holdout_rows)
    assert manifest.reference.count == len(holdout_rows)
    assert manifest.parity.passed and manifest.parity.rows == len(holdout_rows)
    assert manifest.params == {"random_state": 3} and manifest.contamination == 0.05
    assert set(manifest.files) == {"params.npz"} and manifest.libraries["pyod"]


def _artifact_digest(store_uri, request):
    manifest = train(request, ModelStore(store_uri))
    return manifest.files[manifest.artifact]


def test_random_state_is_honoured(store_uri, data_file):
    path, _ = data_file
    same = [
        _artifact_digest(store_uri, TrainRequest("m", "iforest", path, params={"random_state": 7}))
        for _ in range(2)
    ]
    other = _artifact_digest(store_uri, TrainRequest("m", "iforest", path, params={"random_state": 8}))
    assert same[0] == same[1] != other


def test_a_scorer_outside_tolerance_is_never_published(store_uri, data_file):
    path, _ = data_file
    impossible = {
        **TOLERANCES,
        "hbos": Tolerance(max_relative_diff=-1.0, min_spearman=1.0, max_label_flips=0),
    }
    store = ModelStore(store_uri)
    with pytest.raises(ParityFailed, match="nothing was published") as refused:
        train(TrainRequest("m", "hbos", path), store, tolerances=impossible)
    assert store.versions("m") == []
    assert not refused.value.report.passed and refused.value.report.tolerance == impossible["hbos"]


@pytest.mark.parametrize(
    ("request_args", "error", "message"),
    [
        pytest.param(
            ("nope", {}, 0.1), InvalidSpec, "unknown detector 'nope'; choose one of iforest", id="detector"
        ),
        pytest.param(
            ("iforest", {"trees": 5}, 0.1),
            InvalidSpec,
            "unknown parameter.*trees.*valid: bootstrap",
            id="parameter",
        ),
        pytest.param(
            ("iforest", {"contamination": 0.2}, 0.1),
            InvalidSpec,
            "--contamination",
            id="contamination-as-parameter",
        ),
        pytest.param(
            ("iforest", {}, 0.7), InvalidSpec, r"contamination must be in \(0, 0.5\]", id="contamination"
        ),
        pytest.param(
            ("iforest", {"n_estimators": 0}, 0.1), InvalidSpec, "refused the parameters", id="value"
        ),
        pytest.param(
            ("knn", {"metric": "cosine"}, 0.1), InvalidSpec, "cannot be compiled", id="uncompilable"
        ),
        pytest.param(
            ("ocsvm", {"kernel": "precomputed"}, 0.1), InvalidSpec, "cannot be compiled", id="kernel"
        ),
    ],
)
def test_bad_requests_are_refused_before_anything_is_written(
    store_uri, data_file, request_args, error, message
):
    detector, params, contamination = request_args
    store = ModelStore(store_uri)
    with pytest.raises(error, match=message):
        train(TrainRequest("m", detector, data_file[0], contamination, params), store)
    assert store.models() == []


def test_explicit_backend_must_support_the_detector(store_uri, data_file):
    from models.errors import CompileError

    with pytest.raises(CompileError, match="backend onnx cannot compile ecod; use one of numba"):
        train(TrainRequest("m", "ecod", data_file[0], backend="onnx"), ModelStore(store_uri))


def test_rank_deficient_pca_is_refused_with_a_fix(store_uri, tmp_path, data_sets):
    X = data_sets["digits"]
    path = tmp_path / "digits.csv"
    write_features(path, X)
    store = ModelStore(store_uri)
    with pytest.raises(InvalidSpec, match="rank-deficient.*n_components"):
        train(TrainRequest("digits", "pca", str(path)), store)
    assert train(TrainRequest("digits", "pca", str(path), params={"n_components": 30}), store).version == 1


def test_too_few_rows(store_uri, tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(5)))
    with pytest.raises(InvalidInput, match="5 rows; training needs at least 20"):
        train(TrainRequest("m", "iforest", str(path)), ModelStore(store_uri))


def test_split_is_reproducible_and_disjoint():
    fit, holdout = split(1000, seed=1)
    again = split(1000, seed=1)
    assert np.array_equal(fit, again[0]) and np.array_equal(holdout, again[1])
    assert len(holdout) == 200 and not set(fit) & set(holdout) and len(fit) + len(holdout) == 1000
    assert len(split(200_000, seed=0)[1]) == 10_000


def test_row_at_a_time_parity_is_budgeted():
    from models.training import parity_rows

    ecod, iforest = detectors.get("ecod"), detectors.get("iforest")
    assert parity_rows(iforest, 5000, (100_000, 20)) == 5000
    assert parity_rows(ecod, 5000, (100_000, 20)) == 50
    assert parity_rows(ecod, 5000, (1_000, 5)) == 1000


def test_training_data_checksum_is_recorded(store_uri, data_file):
    path, _ = data_file
    manifest = train(TrainRequest("m", "copod", path), ModelStore(store_uri))
    with open(path, "rb") as f:
        assert manifest.training.source_sha256 == hashlib.sha256(f.read()).hexdigest()
