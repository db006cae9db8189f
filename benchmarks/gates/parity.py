"""The parity gate: every registered detector, on every backend that compiles it, reproduces its
PyOD reference when trained the way `raynomaly models train` trains it.

Each (detector, backend) pair is trained with `models.training.train` on one small synthetic data
set into a throw-away store (its own keys), so the gate exercises the same fit, compile and parity
check (`models.parity.compare` at the detector's `TOLERANCES`) that refuses to publish a version.
It prints the measurements per pair and exits 1 naming the pairs that fail. Ray is not started.

    python benchmarks/gates/parity.py [--rows 2000] [--features 20] [--seed 0]

More than 15 features takes KNN and LOF past scikit-learn's exact neighbour search (the case their
tolerances leave room for); `tests/models/test_conformance.py` covers more data sets per pair.
"""

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import csv
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models import backends, detectors  # noqa: E402
from models.errors import ModelError, ParityFailed  # noqa: E402
from models.parity import ParityReport  # noqa: E402
from models.store import ModelStore  # noqa: E402
from models.training import TrainRequest, train  # noqa: E402

PARAMS = {"iforest": {"random_state": 0}, "pca": {"random_state": 0}}


@dataclass(frozen=True)
class Check:
    """One pair's outcome: the parity report, or the error that stopped training before one."""

    detector: str
    backend: str
    report: ParityReport | None
    error: str = ""

    @property
    def passed(self) -> bool:
        """Whether training published: a report within tolerance and no error."""
        return self.report is not None and self.report.passed and not self.error

    @property
    def pair(self) -> str:
        """`detector/backend`."""
        return f"{self.detector}/{self.backend}"


def pairs() -> list[tuple[str, str]]:
    """Every registered (detector, backend) pair the backend can compile (pure)."""
    return [
        (detector, name)
        for detector in detectors.DETECTORS
        for name, backend in backends.BACKENDS.items()
        if backend.supports(detector)
    ]


def synthetic(rows: int, features: int, seed: int) -> np.ndarray:
    """Correlated Gaussian rows with 5% of them pushed off the correlations (pure)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)) @ rng.normal(size=(features, features))
    X[rng.random(rows) < 0.05] += rng.normal(scale=6.0, size=features)
    return X


def check(detector: str, backend: str, data: str, store: ModelStore) -> Check:
    """Train one pair on `data` into `store`; its parity report, or the error that refused it."""
    request = TrainRequest(
        name=f"{detector}-{backend}",
        detector=detector,
        data=data,
        params=PARAMS.get(detector, {}),
        backend=backend,
    )
    try:
        return Check(detector, backend, train(request, store).parity)
    except ParityFailed as e:
        return Check(detector, backend, e.report, "" if e.report is not None else str(e))
    except ModelError as e:
        return Check(detector, backend, None, f"{type(e).__name__}: {e}")


def failures(checks: list[Check]) -> list[str]:
    """One line per failing pair, naming it and why (pure)."""
    return [f"{c.pair}: {c.error or '; '.join(c.report.failures)}" for c in checks if not c.passed]


def table(checks: list[Check]) -> Table:
    """Measurements per pair against the tolerance it is held to."""
    view = Table(title="compiled scorer vs PyOD reference, held-out rows")
    for column in ("detector", "backend", "rows", "max rel. diff", "Spearman", "label flips", "verdict"):
        view.add_column(column, justify="left" if column in ("detector", "backend", "verdict") else "right")
    for c in checks:
        verdict = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
        r = c.report
        if r is None:
            view.add_row(c.detector, c.backend, "-", "-", "-", "-", verdict)
            continue
        view.add_row(
            c.detector,
            c.backend,
            f"{r.rows - r.ambiguous_rows:,}" + (f" (+{r.ambiguous_rows} tied)" if r.ambiguous_rows else ""),
            f"{r.max_relative_diff:.2e} <= {r.tolerance.max_relative_diff:g}",
            f"{r.spearman:.9f} >= {r.tolerance.min_spearman:g}",
            f"{r.label_flips} <= {r.tolerance.max_label_flips}",
            verdict,
        )
    return view


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console() if sys.stdout.isatty() else Console(width=120)  # CI logs are wide
    started = time.perf_counter()
    checks = []
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "train.csv"
        X = synthetic(args.rows, args.features, args.seed)
        csv.write_csv(pa.table({f"f{j}": X[:, j] for j in range(X.shape[1])}), data)
        store = ModelStore(str(Path(folder) / "models"), keys=Path(folder) / "keys")
        for detector, backend in pairs():
            with console.status(f"training {detector} on {backend}"):
                checks.append(check(detector, backend, str(data), store))
    console.print(table(checks))
    elapsed = time.perf_counter() - started
    console.print(f"{len(checks)} pairs, {args.rows:,} rows x {args.features} features, {elapsed:.0f} s")
    failed = failures(checks)
    if failed:
        console.print("[red]parity gate failed:[/red]\n  " + "\n  ".join(failed))
        return 1
    console.print("parity gate passed: every compiled scorer reproduces its reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
