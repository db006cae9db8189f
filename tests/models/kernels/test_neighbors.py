"""The screened (BLAS) neighbour search returns exactly what the exact search returns."""

import numpy as np
import pytest

from models.kernels import neighbors


def _exact(X, train, k):
    d = np.empty((len(X), k))
    i = np.empty((len(X), k), dtype=np.int64)
    neighbors._exact_neighbours(X, train, k, d, i)
    return d, i


@pytest.mark.parametrize(
    "make_train",
    [
        pytest.param(lambda rng: rng.normal(size=(3000, 12)), id="gaussian"),
        pytest.param(lambda rng: np.round(rng.normal(size=(3000, 4)), 1), id="ties-and-duplicates"),
        pytest.param(lambda rng: 1e6 + rng.normal(size=(2000, 30)), id="large-offset-cancellation"),
    ],
)
@pytest.mark.parametrize("k", [1, 5, 20])
def test_screened_equals_exact(make_train, k):
    rng = np.random.default_rng(k)
    train = np.ascontiguousarray(make_train(rng))
    X = np.ascontiguousarray(np.concatenate([train[:100], train[:100] + 1e-9, make_train(rng)[:200]]))
    screened_d, screened_i = neighbors.neighbours(X, train, k)  # >= 16 rows: screened path
    exact_d, exact_i = _exact(X, train, k)
    np.testing.assert_array_equal(screened_d, exact_d)
    np.testing.assert_array_equal(screened_i, exact_i)


def test_neighbours_are_sorted_and_ties_take_the_lower_index():
    train = np.array([[0.0], [1.0], [-1.0], [1.0], [2.0]])
    d, i = neighbors.neighbours(np.array([[0.0]]), train, 4)
    np.testing.assert_array_equal(d[0], [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(i[0], [0, 1, 2, 3])
