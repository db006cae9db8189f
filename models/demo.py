"""Demo data: correlated sensor readings with a few injected anomalies.

python -m models.demo .raynomaly/demo     # writes train.csv and sample.csv
"""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import csv

FEATURES = ["temperature", "pressure", "vibration", "current", "voltage", "flow", "humidity", "rpm"]


def readings(rows: int, anomaly_share: float, seed: int) -> np.ndarray:
    """Correlated Gaussian readings; `anomaly_share` of the rows pushed far off the correlations."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(len(FEATURES), len(FEATURES))) / np.sqrt(len(FEATURES))
    base = rng.normal(size=(rows, len(FEATURES))) @ mixing + np.linspace(10, 80, len(FEATURES))
    anomalies = rng.random(rows) < anomaly_share
    base[anomalies] += rng.normal(scale=4.0, size=(int(anomalies.sum()), len(FEATURES)))
    return base


def write(folder: Path) -> None:
    """Write `train.csv` (5,000 rows) and `sample.csv` (10 rows) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows, share, seed in (("train.csv", 5000, 0.02, 1), ("sample.csv", 10, 0.3, 2)):
        values = readings(rows, share, seed)
        table = pa.table({f: values[:, j].round(4) for j, f in enumerate(FEATURES)})
        csv.write_csv(table, folder / name)


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else ".raynomaly/demo"))
