"""A loaded version honours the scoring contract and needs neither PyOD nor scikit-learn."""

import json
import subprocess
import sys

import numpy as np
import pytest

import models
from models.settings import DEFAULT_STORE, ModelSettings
from models.store import ModelStore
from models.training import TrainRequest, train
from tests.tables import write_features


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("scorer")
    X = np.random.default_rng(0).normal(size=(600, 4))
    path = root / "train.csv"
    write_features(path, X)
    store = str(root / "models")
    for detector in ("iforest", "knn"):
        train(
            TrainRequest("m", detector, str(path), params={"n_neighbors": 3} if detector == "knn" else {}),
            ModelStore(store),
        )
    train(TrainRequest("o", "iforest", str(path), backend="onnx"), ModelStore(store))
    return store, X


def test_load_latest_and_pinned_versions(trained):
    store, X = trained
    latest, first = models.load("m", store=store), models.load("m", version=1, store=store)
    assert latest.manifest.detector == "knn" and first.manifest.detector == "iforest"
    assert first.n_features_in_ == 4 and first.feature_names_in_ == ["f0", "f1", "f2", "f3"]
    scores = first.decision_function(X)
    np.testing.assert_array_equal(first.predict(X), (scores > first.threshold_).astype(int))
    assert 0 < first.predict(X).mean() < 0.3


def test_bad_input_is_refused(trained):
    model = models.load("m", store=trained[0])
    with pytest.raises(models.InvalidInput, match="expected 4 features per row, got 3"):
        model.decision_function(np.zeros((2, 3)))
    with pytest.raises(models.InvalidInput, match="non-finite value inf"):
        model.predict([[0, 0, np.inf, 0]])
    assert model.decision_function(np.zeros((0, 4))).shape == (0,)


def test_scoring_imports_neither_pyod_nor_sklearn(trained):
    store, _ = trained
    program = (
        "import json, sys, models\n"
        f"for v in (1, 2): models.load('m', version=v, store={store!r}).decision_function([[0.0] * 4])\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules} & {'pyod', 'sklearn'})))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("ref", "backend", "not_loaded"),
    [
        pytest.param("m:1", "numba", "onnxruntime", id="numba-model"),
        pytest.param("o:1", "onnx", "numba", id="onnx-model"),
    ],
)
def test_a_model_loads_only_its_own_backend(trained, ref, backend, not_loaded):
    name, version = ref.split(":")
    program = (
        "import json, sys, models\n"
        f"model = models.load({name!r}, version={version}, store={trained[0]!r})\n"
        "print(json.dumps([model.manifest.backend, sorted({n.split('.')[0] for n in sys.modules})]))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    loaded_backend, modules = json.loads(result.stdout)
    assert loaded_backend == backend and not_loaded not in modules


@pytest.mark.parametrize(
    ("flag", "environ", "expected"),
    [
        pytest.param(None, {}, DEFAULT_STORE, id="default"),
        pytest.param(None, {"RAYNOMALY_STORE": "s3://bucket/models"}, "s3://bucket/models", id="environment"),
        pytest.param("/data/models", {"RAYNOMALY_STORE": "elsewhere"}, "/data/models", id="flag-wins"),
    ],
)
def test_store_setting(flag, environ, expected):
    assert ModelSettings.resolve(flag, environ).store == expected


@pytest.mark.parametrize(
    ("backend", "artifact", "message"),
    [
        pytest.param("numba", "pickled", "params.npz holds pickled Python objects", id="pickled-params"),
        pytest.param("numba", b"PK\x03\x04 not a zip", "params.npz is not a NumPy archive", id="broken-npz"),
        pytest.param("onnx", b"not a graph", "model.onnx is not a loadable ONNX graph", id="broken-onnx"),
    ],
)
def test_an_unreadable_artifact_is_refused_naming_the_version_and_file(tmp_path, backend, artifact, message):
    import io

    from models.backends import get
    from models.errors import IntegrityError
    from models.scorer import from_artifact
    from tests.models.test_store import draft

    if artifact == "pickled":
        buffer = io.BytesIO()
        np.savez(buffer, thresholds=np.array([{"run": "code"}], dtype=object))
        artifact = buffer.getvalue()
    manifest = draft().model_copy(update={"backend": backend, "artifact": get(backend).artifact})
    store = ModelStore(str(tmp_path / "models"))
    published = store.publish(manifest, {manifest.artifact: artifact})  # checksummed like any version
    with pytest.raises(IntegrityError, match=f"^fraud:1: {message}"):
        from_artifact(*store.read("fraud", published.version))
