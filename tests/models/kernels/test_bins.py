"""The one-pass input counter: a value's bin is the number of its feature's edges at or below it
(padding edges never count), and values beyond the range are counted per feature."""

import numpy as np

from models.kernels.bins import count_inputs


def test_bins_and_range_in_one_pass_with_padded_edges():
    edges = np.array([[0.0, 1.0, 2.0], [5.0, np.inf, np.inf]])  # feature 1 has one edge: two bins
    offsets = np.array([0, 4])
    rows = np.array([[-1.0, 4.0], [0.0, 5.0], [1.5, 6.0], [2.0, 99.0]])
    bins, outside = np.zeros(6, dtype=np.int64), np.zeros(2, dtype=np.int64)
    count_inputs(rows, edges, offsets, np.array([-0.5, 0.0]), np.array([2.0, 10.0]), bins, outside)
    assert bins.tolist() == [1, 1, 1, 1, 1, 3]  # an edge value falls in the bin above it
    assert outside.tolist() == [1, 1]  # -1 below -0.5; 99 above 10; 2.0 is the maximum itself
    count_inputs(rows[:1], edges, offsets, np.array([-0.5, 0.0]), np.array([2.0, 10.0]), bins, outside)
    assert bins.tolist() == [2, 1, 1, 1, 2, 3] and outside.tolist() == [2, 1]  # counts accumulate
