"""The screened neighbour search returns exactly what a brute-force exact search returns."""

import numpy as np
import pytest

from models.kernels import neighbors


def _brute(X, train, k):
    squared = np.zeros((len(X), len(train)))
    for f in range(X.shape[1]):  # feature by feature, as the kernel and scikit-learn's trees sum
        squared += (X[:, None, f] - train[None, :, f]) ** 2
    order = np.argsort(squared, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(squared, order, axis=1), order


@pytest.mark.parametrize(
    "make_train",
    [
        pytest.param(lambda rng: rng.normal(size=(3000, 12)), id="gaussian"),
        pytest.param(lambda rng: np.round(rng.normal(size=(3000, 4)), 1), id="ties-and-duplicates"),
        pytest.param(lambda rng: 1e4 + rng.normal(size=(2000, 30)), id="large-offset-cancellation"),
        pytest.param(lambda rng: rng.normal(size=(500, 3)) * np.array([1e-6, 1.0, 1e6]), id="wild-scales"),
    ],
)
@pytest.mark.parametrize("k", [1, 5, 20])
def test_screened_search_is_exact(make_train, k):
    rng = np.random.default_rng(k)
    train = np.ascontiguousarray(make_train(rng))
    X = np.ascontiguousarray(np.concatenate([train[:100], train[:100] + 1e-9, make_train(rng)[:200]]))
    got_d, got_i = neighbors.neighbours(X, neighbors.prepare({"train": train}), k)
    want_d, want_i = _brute(X, train, k)
    np.testing.assert_array_equal(got_d, want_d)
    np.testing.assert_array_equal(got_i, want_i)


def test_neighbours_are_sorted_and_ties_take_the_lower_index():
    train = np.array([[0.0], [1.0], [-1.0], [1.0], [2.0]])
    d, i = neighbors.neighbours(np.array([[0.0]]), neighbors.prepare({"train": train}), 4)
    np.testing.assert_array_equal(d[0], [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(i[0], [0, 1, 2, 3])
