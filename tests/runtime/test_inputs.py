"""Counting a batch's feature values in their training-quantile bins and out of the training range:
the compiled pass agrees with `np.searchsorted` and `np.bincount` on every feature."""

import numpy as np
import pytest

from models.drift import feature_edges
from runtime.inputs import InputProfile

NAMES = ["amount", "hour", "flag"]


@pytest.fixture(scope="module")
def training() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.column_stack([rng.lognormal(size=2_000), rng.integers(0, 24, 2_000), np.zeros(2_000)])


def profile(training: np.ndarray) -> InputProfile:
    low, high = training.min(axis=0).tolist(), training.max(axis=0).tolist()
    return InputProfile(NAMES, feature_edges(training), low, high)


def reference_counts(edges: list[list[float]], rows: np.ndarray) -> list[int]:
    return [
        int(count)
        for j, e in enumerate(edges)
        for count in np.bincount(np.searchsorted(e, rows[:, j], side="right"), minlength=len(e) + 1)
    ]


@pytest.mark.parametrize("n_rows", [1, 7, 1_000])
def test_bins_agree_with_searchsorted_on_every_feature(training, n_rows):
    rng = np.random.default_rng(n_rows)
    rows = training[rng.integers(0, len(training), n_rows)] + rng.normal(scale=0.5, size=(n_rows, 3))
    edges = feature_edges(training)
    rows[0, 0] = edges[0][3]  # exactly on an edge: counted in the bin above it
    assert profile(training).count(rows)[0].tolist() == reference_counts(edges, rows)


def test_a_constant_feature_has_two_bins_and_cells_name_them(training):
    counted = profile(training)
    assert counted.bin_cells[:10] == tuple(("amount", str(b)) for b in range(10))
    assert counted.bin_cells[-2:] == (("flag", "0"), ("flag", "1"))
    assert len(counted.bin_cells) == 10 + len(feature_edges(training)[1]) + 1 + 2
    served, _ = counted.count(np.array([[1.0, 3.0, 0.0], [1.0, 3.0, -1.0]]))
    assert served[-2:].tolist() == [1, 1]  # below the constant, and at it


def test_training_rows_fill_the_bins_of_a_continuous_feature_evenly(training):
    assert profile(training).count(training)[0][:10].tolist() == [200] * 10


def test_out_of_range_counts_values_beyond_the_training_extremes(training):
    low, high = training.min(axis=0), training.max(axis=0)
    rows = np.array([low, high, low - 1, high + [1, 0, 0]])
    assert profile(training).count(rows)[1].tolist() == [2, 1, 1]
    assert profile(training).issue_cells == tuple((n, "out_of_range") for n in NAMES)


def test_a_profile_whose_lengths_disagree_is_refused():
    with pytest.raises(ValueError, match="3 features but 2 bin edge lists"):
        InputProfile(NAMES, [[0.0], [1.0]], [0.0] * 3, [1.0] * 3)
