"""What does counting input drift and data quality cost on serving throughput? One runtime
(`raynomaly up`, the version inline on 2 gateway replicas), the same wrk runs in turns with the
version's `input_drift` on and off (applied in place), json-1 and npy-1000; each configuration is
measured in every round, interleaved, so the machine's drift shows as the spread between rounds.
The goal: counting costs at most 5% of throughput.

`--in-process` measures the hot path alone, without Ray: `LocalScorer.scored` on a 1-row and a
1,000-row matrix of 8 and 20 features, with counting on and off, interleaved, and the counting step
by itself (bins, range, and the counters' in-replica sums), which a shared machine's noise hides
less.

Results go to `benchmarks/results/drift.json` (each mode its own key) and are printed as a table.

    python benchmarks/bench_drift.py [--duration 10] [--rounds 3]
    python benchmarks/bench_drift.py --in-process
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import csv as arrow_csv
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_serving import HTTP, MODEL, PORTS, Runtime, bodies, raynomaly, scratch, settle, timed  # noqa: E402

from models.store import ModelStore  # noqa: E402
from models.training import TrainRequest, train  # noqa: E402
from runtime.desired import ScorerOptions  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "drift.json"
SCENARIOS = ("json-1", "npy-1000")
CONFIGS = {"input drift on": True, "input drift off": False}
SEED = {"random_state": 0}
console = Console(stderr=True)


def training_file(root: Path, features: int, rows: int = 10_000) -> str:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features)) @ rng.normal(size=(features, features))
    path = root / f"train-{features}.csv"
    arrow_csv.write_csv(pa.table({f"f{j}": X[:, j] for j in range(features)}), path)
    return str(path)


def served(seconds: int, rounds: int) -> list[dict]:
    """wrk against a live runtime, input drift on and off in turns."""
    _, environ = scratch("drift")
    flags = [str(part) for flag, port in PORTS.items() for part in (flag, port)]
    runs: list[dict] = []
    raynomaly(environ, "up", *flags, "--insecure-no-auth", "--replicas", "2")
    try:
        runtime = Runtime(environ)
        settle("gateway", 2)
        gateway = runtime.desired.gateway
        for round_ in range(1, rounds + 1):
            for config, input_drift in CONFIGS.items():
                runtime.serve(ScorerOptions(input_drift=input_drift), gateway)
                for scenario in SCENARIOS:
                    path, body, content_type, connections = bodies()[scenario]
                    console.print(f"round {round_}: {config}: {scenario} x{connections} ...")
                    runs.append(timed(HTTP + path, body, content_type, connections, seconds,
                                      config=config, scenario=scenario, round=round_))  # fmt: skip
    finally:
        raynomaly(environ, "down", "--ray-port", str(PORTS["--ray-port"]))
    return runs


def summary(runs: list[dict]) -> list[dict]:
    """Median req/s per configuration and scenario, and its ratio to counting off."""
    rows = []
    for scenario in SCENARIOS:
        mine = [r for r in runs if r["scenario"] == scenario]
        spread = {config: [r["rps"] for r in mine if r["config"] == config] for config in CONFIGS}
        base = statistics.median(spread["input drift off"])
        for config, rates in spread.items():
            rows.append({"scenario": scenario, "config": config, "rps_median": statistics.median(rates),
                         "rps_rounds": rates, "vs_off": statistics.median(rates) / base})  # fmt: skip
    return rows


def fastest(steps: dict[str, Callable[[], object]], calls: int, repeats: int) -> dict[str, float]:
    """Microseconds per call of each step, the fastest of `repeats` timings of `calls` calls (the
    least disturbed by other work), steps interleaved. Runs in an event loop, as in a replica, so
    the counters are flushed every FLUSH_S, not on every call."""
    timings: dict[str, list[float]] = {step: [] for step in steps}

    async def measure():
        for _ in range(repeats):
            for step, call in steps.items():
                started = time.perf_counter()
                for _ in range(calls):
                    call()
                timings[step].append((time.perf_counter() - started) / calls * 1e6)
                await asyncio.sleep(0)

    asyncio.run(measure())
    return {step: min(times) for step, times in timings.items()}


def hot_path(root: Path, repeats: int = 15) -> list[dict]:
    """`LocalScorer.scored` with counting on and off, and the counting step alone, by features and
    rows."""
    from runtime.desired import NO_BATCHING
    from runtime.metrics import ScorerMetrics
    from runtime.version import LocalScorer, load_version

    results = []
    for features in (8, 20):
        store = ModelStore(str(root / f"models-{features}"))
        train(TrainRequest(MODEL, "iforest", training_file(root, features), params=SEED), store)
        loaded = load_version(store.uri, MODEL, 1)
        on = LocalScorer(loaded, ScorerMetrics(), NO_BATCHING, input_drift=True)
        off = LocalScorer(loaded, ScorerMetrics(), NO_BATCHING, input_drift=False)
        for rows in (1, 1000):
            matrix, parts = np.random.default_rng(1).normal(size=(rows, features)), [("stable", rows)]
            us = fastest(
                {"on": partial(on.scored, matrix, parts), "off": partial(off.scored, matrix, parts),
                 "count": partial(on._count_inputs, matrix, "stable")},
                calls=2000 if rows == 1 else 200, repeats=repeats,
            )  # fmt: skip
            results.append({"features": features, "rows": rows, "on_us": us["on"], "off_us": us["off"],
                            "added_us": us["on"] - us["off"], "count_us": us["count"],
                            "count_share": us["count"] / us["off"]})  # fmt: skip
    return results


def write(key: str, value: list[dict], extra: dict) -> None:
    """Results under `key` of the results file, keeping the other mode's."""
    document = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    document["question"] = " ".join(__doc__.split("\n\n")[0].split())
    document["machine"] = {"cpus": os.cpu_count()}
    document[key] = {"measured_at": datetime.now(UTC).isoformat(), **extra, "results": value}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="time the scorer's hot path only, no Ray")
    arguments = parser.parse_args()
    out = Console(width=150)
    if arguments.in_process:
        results = hot_path(Path(tempfile.mkdtemp(prefix="raynomaly-bench-drift-")))
        write("in_process", results, {"what": "LocalScorer.scored, iforest (numba), microseconds per call"})
        table = Table("features", "rows", "on (us)", "off (us)", "on - off (us)", "counting (us)",
                      "counting / off", title="hot path: LocalScorer.scored")  # fmt: skip
        for r in results:
            table.add_row(str(r["features"]), str(r["rows"]), f"{r['on_us']:.1f}", f"{r['off_us']:.1f}",
                          f"{r['added_us']:.1f}", f"{r['count_us']:.1f}",
                          f"{r['count_share']:.1%}")  # fmt: skip
        out.print(table)
        return
    runs = served(arguments.duration, arguments.rounds)
    rows = summary(runs)
    write("served", rows, {"client": "wrk (2 threads)", "duration_s": arguments.duration, "runs": runs})
    table = Table("scenario", "configuration", "req/s (median)", "rounds", "x off", title="input drift")
    for row in rows:
        rounds = ", ".join(f"{r:,.0f}" for r in row["rps_rounds"])
        table.add_row(row["scenario"], row["config"], f"{row['rps_median']:,.0f}", rounds,
                      f"{row['vs_off']:.3f}")  # fmt: skip
    out.print(table)
    out.print(f"failed requests: {sum(r['failed'] for r in runs)}; written to {RESULTS}")


if __name__ == "__main__":
    main()
