"""Writing feature matrices as the CSV files users train and score from."""

from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import csv


def write_features(path: Path, X: np.ndarray, names: list[str] | None = None) -> str:
    """Write `X` to `path` as CSV with columns `names` (default f0, f1, ...); returns the path."""
    names = names or [f"f{j}" for j in range(X.shape[1])]
    csv.write_csv(pa.table({name: X[:, j] for j, name in enumerate(names)}), path)
    return str(path)
