"""How much faster than its PyOD reference is every compiled scorer, at batch 1, 64 and 10,000?

Reference and compiled scorers of one detector are timed interleaved in one process (so machine
noise hits both alike); each cell is the median of several rounds. Results go to
`benchmarks/results/scoring.json` and are printed as a table.

    python benchmarks/bench_scoring.py [--rounds 5] [--train-rows 10000] [--features 20]

`--quick` measures the same cells in 3 rounds and writes the document to `--output` (default:
standard output, the table then goes to standard error); it never writes into `benchmarks/results/`.
The ratios gate (`benchmarks/gates/ratios.py`) compares such a run with the recorded speed-ups.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from models import backends, detectors

BATCHES = (1, 64, 10_000)
PARAMS = {"iforest": {"random_state": 0}, "pca": {"random_state": 0}}
GOALS = [  # (detector, batch, minimum speed-up of the auto backend)
    ("iforest", 1, 200.0),
    ("iforest", 64, 30.0),
    ("iforest", 10_000, 2.0),
    ("ecod", 1, 1000.0),
    ("copod", 1, 1000.0),
]
RESULTS = Path(__file__).parent / "results" / "scoring.json"
QUICK_ROUNDS = 3


def data(rows: int, features: int, seed: int) -> np.ndarray:
    """Correlated Gaussian rows with 2% anomalies."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)) @ rng.normal(size=(features, features))
    X[rng.random(rows) < 0.02] += rng.normal(scale=5.0, size=features)
    return np.ascontiguousarray(X)


def rows_per_second(score, queries: np.ndarray, batch: int, min_seconds: float = 0.05) -> float:
    """Rows/s of `score` over consecutive batches of `queries`, timed for at least `min_seconds`."""
    calls, rows, start = 0, 0, time.perf_counter()
    while True:
        offset = (calls * batch) % (len(queries) - batch + 1)
        score(queries[offset : offset + batch])
        calls, rows = calls + 1, rows + batch
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and calls >= 2:
            return rows / elapsed


def bench_detector(name: str, train: np.ndarray, queries: np.ndarray, rounds: int) -> list[dict]:
    """Every backend of one detector against the reference, at every batch size."""
    detector = detectors.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = detectors.fit(detector, train, PARAMS.get(name, {}), 0.1)
    params = detector.extract(reference)
    scorers = {}
    for backend_name, backend in backends.BACKENDS.items():
        if backend.supports(name):
            scorers[backend_name] = backend.load(name, backend.compile(name, params, train.shape[1]))
            scorers[backend_name](queries[:2])  # compile now, not inside the timing

    def reference_score(X):
        # PyOD's own call on the whole batch (for ECOD/COPOD: transductive, one sort per call)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return reference.decision_function(X)

    results = []
    for batch in BATCHES:
        timings = {key: [] for key in ["reference", *scorers]}
        for _ in range(rounds):
            timings["reference"].append(rows_per_second(reference_score, queries, batch))
            for backend_name, score in scorers.items():
                timings[backend_name].append(rows_per_second(score, queries, batch))
        reference_rate = statistics.median(timings["reference"])
        for backend_name in scorers:
            rate = statistics.median(timings[backend_name])
            results.append(
                {
                    "detector": name,
                    "backend": backend_name,
                    "auto": backends.PREFERRED[name] == backend_name,
                    "batch": batch,
                    "reference_rows_per_s": reference_rate,
                    "compiled_rows_per_s": rate,
                    "speedup": rate / reference_rate,
                    "reference_spread": [min(timings["reference"]), max(timings["reference"])],
                    "compiled_spread": [min(timings[backend_name]), max(timings[backend_name])],
                }
            )
    return results


def goals(results: list[dict]) -> list[dict]:
    """Each goal with the measured speed-up of the auto backend and whether it was met."""
    auto = {(r["detector"], r["batch"]): r["speedup"] for r in results if r["auto"]}
    checked = [
        {"goal": f"{d} >= {minimum:g}x at batch {b}", "measured": auto[d, b], "met": auto[d, b] >= minimum}
        for d, b, minimum in GOALS
    ]
    slower = [f"{d}@{b}: {s:.2f}x" for (d, b), s in auto.items() if s <= 1.0]
    checked.append(
        {
            "goal": "every detector (auto backend) faster than its reference at every batch size",
            "measured": slower or "all faster",
            "met": not slower,
        }
    )
    return checked


def table(results: list[dict]) -> Table:
    """Speed-ups and compiled rows/s per detector and backend."""
    view = Table(title="compiled vs PyOD reference (speed-up, compiled rows/s)")
    view.add_column("detector")
    view.add_column("backend")
    for batch in BATCHES:
        view.add_column(f"batch {batch:,}", justify="right")
    keys = sorted({(r["detector"], r["backend"], r["auto"]) for r in results}, key=lambda k: (k[0], not k[2]))
    for detector, backend, auto in keys:
        cells = []
        for batch in BATCHES:
            r = next(
                x for x in results if (x["detector"], x["backend"], x["batch"]) == (detector, backend, batch)
            )
            cells.append(f"{r['speedup']:,.1f}x  {r['compiled_rows_per_s']:,.0f}/s")
        view.add_row(detector, backend + (" (auto)" if auto else ""), *cells)
    return view


def arguments() -> argparse.Namespace:
    """The command line; `output` is where the document goes (`-`: standard output)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help=f"default 5, {QUICK_ROUNDS} with --quick")
    parser.add_argument("--train-rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--detectors", default=",".join(detectors.DETECTORS))
    parser.add_argument("--quick", action="store_true", help="fewer rounds, never into results/")
    parser.add_argument("--output", type=Path, help=f"the JSON document, - for stdout (default {RESULTS})")
    args = parser.parse_args()
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else 5)
    args.output = args.output or (Path("-") if args.quick else RESULTS)
    recorded = RESULTS.parent.resolve()
    if args.quick and args.output != Path("-") and args.output.resolve().parent == recorded:
        parser.error(f"a --quick run never replaces recorded results: pass --output outside {recorded}")
    return args


def main() -> None:
    args = arguments()
    console = Console(stderr=True)
    train = data(args.train_rows, args.features, seed=0)
    queries = data(max(BATCHES) * 2, args.features, seed=1)
    results = []
    names = args.detectors.split(",")
    with Progress(console=console) as progress:
        task = progress.add_task("benchmarking", total=len(names))
        for name in names:
            progress.update(task, description=f"benchmarking {name}")
            results.extend(bench_detector(name, train, queries, args.rounds))
            progress.advance(task)
    document = {
        "question": __doc__.splitlines()[0],
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "settings": {
            "train_rows": args.train_rows,
            "features": args.features,
            "rounds": args.rounds,
            "batches": list(BATCHES),
            "compiled_threads": 1,
            "reference_threads": os.environ.get("OMP_NUM_THREADS", "library default"),
        },
        "libraries": {
            n: metadata.version(n) for n in ("numpy", "pyod", "scikit-learn", "numba", "onnxruntime")
        },
        "results": results,
        "goals": goals(results) if set(names) == set(detectors.DETECTORS) else [],
    }
    text = json.dumps(document, indent=2) + "\n"
    to_stdout = args.output == Path("-")
    if to_stdout:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    out = console if to_stdout else Console()
    out.print(table(results))
    for goal in document["goals"]:
        out.print(f"{'met ' if goal['met'] else 'MISSED'}  {goal['goal']}: {goal['measured']}")
    if not to_stdout:
        out.print(f"written to {args.output}")


if __name__ == "__main__":
    main()
