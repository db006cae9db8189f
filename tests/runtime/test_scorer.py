"""Scorer device selection: a replica given a GPU scores on it or refuses; it never falls back."""

import sys

import numpy as np
import pytest

from models.gpu import GpuUnavailable
from models.store import ModelStore
from models.training import TrainRequest, train
from runtime.desired import DeployedVersion, DesiredState, ScorerOptions
from runtime.scorer import load_scorer
from runtime.serving import check_gpus
from tests.tables import write_features


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("scorer")
    X = np.random.default_rng(0).normal(size=(300, 3))
    write_features(root / "t.csv", X)
    store = ModelStore(str(root / "models"))
    for detector in ("iforest", "hbos"):
        train(TrainRequest("m", detector, str(root / "t.csv")), store)
    return store


def test_without_gpus_the_cpu_scorer_loads(store):
    manifest, score, device = load_scorer(store.uri, "m", 1, gpu_ids=[])
    assert device == "cpu" and score(np.zeros((2, 3))).shape == (2,)


def test_a_gpu_replica_without_a_gpu_path_refuses_to_start(store):
    with pytest.raises(GpuUnavailable, match="hbos has no GPU scorer"):
        load_scorer(store.uri, "m", 2, gpu_ids=[0])


def test_a_gpu_replica_without_cupy_refuses_to_start(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(GpuUnavailable, match="needs CuPy"):
        load_scorer(store.uri, "m", 1, gpu_ids=[0])


@pytest.mark.parametrize(
    ("version", "cluster_gpus", "message"),
    [
        pytest.param(1, 0.0, "asks for 0.5 GPU per replica but the cluster has 0", id="no-gpu-in-cluster"),
        pytest.param(2, 8.0, "hbos has no GPU scorer", id="no-gpu-path"),
    ],
)
def test_gpu_requests_are_checked_before_deploying(store, version, cluster_gpus, message):
    options = ScorerOptions(num_gpus=0.5)
    desired = DesiredState(
        store=store.uri, versions=[DeployedVersion(model="m", version=version, options=options)]
    )
    with pytest.raises(GpuUnavailable, match=message):
        check_gpus(desired, store, cluster_gpus)
    check_gpus(desired.model_copy(update={"versions": []}), store, 0.0)  # nothing asks for a GPU: fine
