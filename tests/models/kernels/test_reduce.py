"""pairwise_sum rounds exactly like NumPy's sum over the last axis, at every length."""

import numpy as np
import pytest

from models.kernels.reduce import pairwise_sum


@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 16, 127, 128, 129, 255, 256, 1000, 4099, 70_001])
def test_matches_numpy_sum_bit_for_bit(length):
    rng = np.random.default_rng(length)
    values = rng.normal(size=length) * np.exp(rng.normal(scale=8, size=length))  # wide magnitudes
    assert pairwise_sum(values, 0, length) == values.sum()


def test_sums_a_slice():
    values = np.arange(300, dtype=np.float64) / 7
    assert pairwise_sum(values, 50, 200) == values[50:250].sum()
