"""GPU scorer selection: a version without a GPU path is refused with the reason, never run on CPU."""

import sys

import numpy as np
import pytest

from models.gpu import GpuUnavailable, gpu_scorer
from models.store import ModelStore
from models.training import TrainRequest, train
from tests.tables import write_features


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu")
    X = np.random.default_rng(0).normal(size=(7000, 3))
    write_features(root / "train.csv", X)
    store = ModelStore(str(root / "models"))
    for name, detector, backend, params in [
        ("forest", "iforest", "numba", {}),
        ("graph", "iforest", "onnx", {}),
        ("histogram", "hbos", "numba", {}),
        ("deep", "iforest", "numba", {"max_samples": 5000, "n_estimators": 5}),
    ]:
        train(TrainRequest(name, detector, str(root / "train.csv"), params=params, backend=backend), store)
    return store


@pytest.mark.parametrize(
    ("model", "message"),
    [
        pytest.param("histogram", "hbos has no GPU scorer", id="detector-without-gpu-path"),
        pytest.param("graph", "reads the numba artifact", id="onnx-artifact"),
        pytest.param("deep", "too deep for the GPU layout", id="deep-forest"),
    ],
)
def test_versions_without_a_gpu_path_are_refused(store, model, message):
    manifest, files = store.read(model)
    with pytest.raises(GpuUnavailable, match=message):
        gpu_scorer(manifest, files[manifest.artifact])


def test_missing_cupy_is_named(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # as on a node without CuPy installed
    manifest, files = store.read("forest")
    with pytest.raises(GpuUnavailable, match="GPU scoring needs CuPy"):
        gpu_scorer(manifest, files[manifest.artifact])
