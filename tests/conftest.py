"""Shared fixtures: data sets (synthetic and scikit-learn's bundled ones) and temporary stores."""

import numpy as np
import pytest
from sklearn import datasets


def _synthetic(rows: int, features: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)) @ rng.normal(size=(features, features))
    X[rng.random(rows) < 0.05] += rng.normal(scale=6.0, size=features)
    return X


def _ties(rows: int, features: int, seed: int) -> np.ndarray:
    """Coarsely rounded values: many exact ties and duplicated rows, as in real sensor data."""
    return np.round(_synthetic(rows, features, seed), 1)


DATASETS = {
    "synthetic-6": lambda: _synthetic(1200, 6, 0),
    "synthetic-20": lambda: _synthetic(1200, 20, 1),
    "ties-5": lambda: _ties(1200, 5, 2),
    "breast-cancer": lambda: datasets.load_breast_cancer().data,
    "wine": lambda: datasets.load_wine().data,
    "digits": lambda: datasets.load_digits().data,
}


@pytest.fixture(scope="session")
def data_sets() -> dict[str, np.ndarray]:
    """Every data set, loaded once, as float64 C-contiguous matrices."""
    return {name: np.ascontiguousarray(make(), dtype=np.float64) for name, make in DATASETS.items()}


@pytest.fixture
def store_uri(tmp_path) -> str:
    """A fresh local model store."""
    return str(tmp_path / "models")
