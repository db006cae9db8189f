"""What a scorer counts about the rows it scores: the training-quantile bin of every feature value
(input drift) and the values outside the training range (data quality), from the version's manifest.

A value's bin is the number of its feature's edges at or below it (`models.drift`). Both counts
come from one compiled pass over the batch (`models.kernels.bins`), without a Python step per row
or per feature.
"""

import numpy as np

from models.kernels.bins import count_inputs
from models.manifest import Manifest
from runtime.series import OUT_OF_RANGE


class InputProfile:
    """A version's reference for its inputs, ready to count batches: per feature its bin edges and
    its training minimum and maximum, and the label values of every counted cell."""

    def __init__(self, names: list[str], edges: list[list[float]], low: list[float], high: list[float]):
        if not len(names) == len(edges) == len(low) == len(high):
            raise ValueError(
                f"{len(names)} features but {len(edges)} bin edge lists and {len(low)} ranges; "
                "retrain the version"
            )
        sizes = [len(e) for e in edges]
        self._edges = np.full((len(edges), max(sizes, default=0)), np.inf)
        for j, e in enumerate(edges):
            self._edges[j, : len(e)] = e
        self._offsets = np.cumsum([0, *(s + 1 for s in sizes[:-1])]).astype(np.int64)
        self._cells = sum(sizes) + len(sizes)
        self._low, self._high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        self.bin_cells = tuple(
            (name, str(b)) for name, size in zip(names, sizes, strict=True) for b in range(size + 1)
        )
        """(feature, bin) of every count `count` returns first, in order."""
        self.issue_cells = tuple((name, OUT_OF_RANGE) for name in names)
        """(feature, issue) of every count `count` returns second, in order."""
        self.count(np.zeros((1, len(names))))  # compiled (or read from Numba's cache) now, not serving

    @classmethod
    def of(cls, manifest: Manifest) -> "InputProfile | None":
        """The profile of a version, or None if it was published without feature bins."""
        if manifest.feature_bins is None:
            return None
        training = manifest.training
        return cls(manifest.feature_names, manifest.feature_bins, training.feature_min, training.feature_max)

    def count(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How many of `rows` (finite float64, one column per feature) fall in each (feature, bin)
        cell, in `bin_cells` order, and hold a value out of the training range, per feature in
        `issue_cells` order (pure)."""
        bins = np.zeros(self._cells, dtype=np.int64)
        outside = np.zeros(len(self._low), dtype=np.int64)
        count_inputs(rows, self._edges, self._offsets, self._low, self._high, bins, outside)
        return bins, outside
