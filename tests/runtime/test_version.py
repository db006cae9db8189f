"""A loaded version: device selection (a replica given a GPU scores on it or refuses, never falls
back), and the LocalScorer that both inline and dedicated versions score through (its dynamic batching
needs a Serve replica: tests/runtime/test_serving_live.py)."""

import asyncio
import sys

import numpy as np
import pytest

from models.gpu import GpuUnavailable
from models.store import ModelStore
from models.training import TrainRequest, train
from runtime.desired import NO_BATCHING, DeployedVersion, DesiredState, ScorerOptions
from runtime.serving import check_gpus
from runtime.version import LoadedVersion, LocalScorer, load_version
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


class MetricsDouble:
    """Records what a scoring replica would export."""

    def __init__(self):
        self.rows, self.batches, self.features, self.issues = [], [], {}, {}

    def record(self, model, version, role, percentiles, labels):
        assert len(percentiles) == len(labels) and ((percentiles >= 0) & (percentiles <= 1)).all()
        self.rows.append((model, version, role, len(labels)))

    def record_batch(self, model, version, size):
        self.batches.append(size)

    def record_features(self, model, version, role, cells, counts):
        assert len(cells) == len(counts)
        for cell, count in zip(cells, counts, strict=True):
            key = (model, version, role, *cell)
            self.features[key] = self.features.get(key, 0) + int(count)

    def record_issues(self, model, version, cells, counts):
        for cell, count in zip(cells, counts, strict=True):
            key = (model, version, *cell)
            self.issues[key] = self.issues.get(key, 0) + int(count)


def test_without_gpus_the_cpu_scorer_loads(store):
    loaded = load_version(store.uri, "m", 1, gpu_ids=[])
    assert loaded.device == "cpu" and loaded.score(np.zeros((2, 3))).shape == (2,)
    assert loaded.description.feature_names == ["f0", "f1", "f2"] and loaded.description.n_features == 3


def test_a_gpu_replica_without_a_gpu_path_refuses_to_start(store):
    with pytest.raises(GpuUnavailable, match="hbos has no GPU scorer"):
        load_version(store.uri, "m", 2, gpu_ids=[0])


def test_a_gpu_replica_without_cupy_refuses_to_start(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(GpuUnavailable, match="needs CuPy"):
        load_version(store.uri, "m", 1, gpu_ids=[0])


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


def test_unbatched_scoring_matches_the_model_and_records_each_request(store):
    import models

    model = models.load("m", 1, store.uri)
    metrics = MetricsDouble()
    scorer = LocalScorer(load_version(store.uri, "m", 1), metrics, NO_BATCHING)
    X = np.random.default_rng(1).normal(size=(5, 3))

    async def run():
        return await asyncio.gather(*(scorer.score(X[i : i + 1], "canary") for i in range(5)))

    answers = asyncio.run(run())
    np.testing.assert_array_equal(np.concatenate([s for s, _ in answers]), model.decision_function(X))
    assert [labels[0] for _, labels in answers] == list(model.predict(X))
    assert metrics.batches == [1] * 5 and metrics.rows == [("m", 1, "canary", 1)] * 5


def expected_bins(manifest, rows, feature: int) -> list[int]:
    edges = manifest.feature_bins[feature]
    index = np.searchsorted(edges, rows[:, feature], side="right")
    return np.bincount(index, minlength=len(edges) + 1).tolist()


def test_each_roles_rows_are_counted_in_the_training_bins_of_every_feature(store):
    loaded = load_version(store.uri, "m", 1)
    metrics = MetricsDouble()
    scorer = LocalScorer(loaded, metrics, NO_BATCHING)
    X = np.random.default_rng(2).normal(size=(300, 3))
    scorer.scored(X, [("stable", 200), ("canary", 60), ("stable", 40)])
    stable, canary = np.r_[X[:200], X[260:]], X[200:260]
    for role, rows in (("stable", stable), ("canary", canary)):
        for j, name in enumerate(["f0", "f1", "f2"]):
            counted = [metrics.features[("m", 1, role, name, str(b))] for b in range(10)]
            assert counted == expected_bins(loaded.manifest, rows, j)
    assert sum(v for k, v in metrics.features.items() if k[2] == "canary") == 60 * 3


def test_values_outside_the_training_range_are_counted_per_feature(store):
    loaded = load_version(store.uri, "m", 1)
    metrics = MetricsDouble()
    training = loaded.manifest.training
    rows = np.array([[training.feature_max[0] + 1, 0.0, 0.0], [0.0, training.feature_min[1] - 1, 0.0]])
    LocalScorer(loaded, metrics, NO_BATCHING).scored(rows, [("stable", 2)])
    assert metrics.issues == {("m", 1, "f0", "out_of_range"): 1, ("m", 1, "f1", "out_of_range"): 1,
                              ("m", 1, "f2", "out_of_range"): 0}  # fmt: skip


def test_nothing_is_counted_for_a_version_without_bins_or_with_input_drift_off(store):
    loaded = load_version(store.uri, "m", 1)
    old = LoadedVersion(loaded.manifest.model_copy(update={"feature_bins": None}), loaded.score, "cpu")
    rows = np.full((4, 3), 1e6)
    for scorer in (LocalScorer(old, MetricsDouble(), NO_BATCHING),
                   LocalScorer(loaded, MetricsDouble(), NO_BATCHING, input_drift=False)):  # fmt: skip
        scorer.scored(rows, [("stable", 4)])
        assert scorer.metrics.features == {} and scorer.metrics.issues == {}
        assert scorer.metrics.rows == [("m", 1, "stable", 4)]
    switched = LocalScorer(loaded, MetricsDouble(), NO_BATCHING, input_drift=False)
    switched.configure(NO_BATCHING, input_drift=True)
    switched.scored(rows, [("stable", 4)])
    assert switched.metrics.features[("m", 1, "stable", "f0", "9")] == 4
