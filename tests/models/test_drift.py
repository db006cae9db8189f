"""Input drift: training-quantile bins per feature, carried in the sealed manifest, and PSI and a
binned KS distance of served counts against them."""

import json

import numpy as np
import pytest

from models.drift import FEATURE_BINS, bin_shares, feature_edges, feature_ks, feature_psi
from models.manifest import Manifest
from models.store import ModelStore
from models.training import TrainRequest, split, train
from tests.models.test_store import draft
from tests.tables import write_features


def uniform_counts(rows_per_bin: float, n_bins: int = FEATURE_BINS) -> dict[str, float]:
    return {str(b): rows_per_bin for b in range(n_bins)}


def test_the_bins_of_a_normal_feature_split_its_rows_evenly():
    X = np.random.default_rng(0).normal(size=(5_000, 2)) * [1.0, 30.0] + [0.0, 7.0]
    for j, edges in enumerate(feature_edges(X)):
        assert len(edges) == FEATURE_BINS - 1 and edges == sorted(edges)
        counts = np.bincount(np.searchsorted(edges, X[:, j], side="right"), minlength=FEATURE_BINS)
        assert counts.tolist() == [500] * FEATURE_BINS


def test_tied_quantiles_leave_fewer_edges():
    X = np.column_stack([np.full(100, 3.0), np.r_[np.zeros(90), np.arange(1.0, 11.0)]])
    constant, mostly_zero = feature_edges(X)
    assert constant == [3.0]
    assert mostly_zero == [0.0, pytest.approx(0.1)]  # deciles 1-8 are all 0


def test_a_trained_version_carries_bins_of_its_fit_rows(store_uri, tmp_path):
    X = np.random.default_rng(1).normal(size=(400, 3))
    path = write_features(tmp_path / "t.csv", X)
    manifest = train(TrainRequest("m", "iforest", path, params={"random_state": 5}), ModelStore(store_uri))
    fit_rows, _ = split(len(X), seed=5)
    assert manifest.feature_bins == feature_edges(X[fit_rows])
    assert len(manifest.feature_bins) == manifest.n_features
    read, _ = ModelStore(store_uri).read("m", 1)
    assert read.feature_bins == manifest.feature_bins


def test_a_manifest_written_before_feature_bins_keeps_its_seal():
    old = draft().sealed()
    document = json.loads(old.to_json())
    assert document.pop("feature_bins") is None
    read = Manifest.model_validate(document)
    assert read.verify("old") == read and read.feature_bins is None
    assert b"feature_bins" not in read.canonical()


def test_feature_bins_are_sealed():
    sealed = draft().model_copy(update={"feature_bins": [[0.5], [0.1, 0.2]]}).sealed()
    document = json.loads(sealed.to_json())
    document["feature_bins"][1][0] = 0.15
    with pytest.raises(Exception, match="checksum mismatch"):
        Manifest.model_validate(document).verify("edited")


@pytest.mark.parametrize(
    ("counts", "psi", "ks"),
    [
        pytest.param(uniform_counts(100), 0.0, 0.0, id="served-like-training"),
        pytest.param({"0": 500, "9": 500}, 6.81, 0.4, id="only-the-tails"),
        pytest.param({"9": 1000}, 8.3, 0.9, id="everything-above-the-top-decile"),
    ],
)
def test_psi_and_ks_against_equal_shares(counts, psi, ks):
    assert feature_psi(counts, FEATURE_BINS) == pytest.approx(psi, abs=0.05)
    assert feature_ks(counts, FEATURE_BINS) == pytest.approx(ks, abs=1e-9)


def test_a_small_shift_scores_low_and_a_large_one_high():
    rng = np.random.default_rng(2)
    edges = feature_edges(rng.normal(size=(20_000, 1)))[0]

    def served(shift: float) -> dict[str, float]:
        index = np.searchsorted(edges, rng.normal(shift, size=5_000), side="right")
        counts = np.bincount(index, minlength=10)
        return {str(b): float(c) for b, c in enumerate(counts)}

    same, moved = served(0.0), served(1.0)
    assert feature_psi(same, 10) < 0.02 and feature_ks(same, 10) < 0.03
    assert feature_psi(moved, 10) > 0.5 and feature_ks(moved, 10) > 0.3


def test_reference_shares_can_be_given_for_tied_bins():
    assert feature_psi({"0": 0, "1": 100}, 2, expected=[0.0, 1.0]) == pytest.approx(0.0)
    assert feature_ks({"0": 0, "1": 100}, 2, expected=[0.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="2 non-negative numbers summing to 1"):
        feature_psi({"0": 1}, 2, expected=[0.5, 0.6])


def test_no_rows_is_no_data_not_zero_drift():
    assert feature_psi({}, 10) is None and feature_ks({"3": 0}, 10) is None


@pytest.mark.parametrize("bucket", ["10", "-1", "0.50", "x"])
def test_a_bucket_outside_the_features_bins_is_refused(bucket):
    with pytest.raises(ValueError, match="expected 0..9"):
        bin_shares({bucket: 1}, 10)
