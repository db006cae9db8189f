"""Is `raynomaly batch score` never slower than one process? 1M and 4M rows x 20 features: Parquet ->
scores -> Parquet.

In one run, on the same file and model (an isolation forest trained the project's way, compiled
backend `auto`): (a) one process with the compiled scorer in a plain pyarrow loop (read batches ->
score -> write), the yardstick; (b) the job as `raynomaly batch score` runs it by default
(`engine auto`, which picks its engine by predicted time); (c) the job forced onto Ray Data
(`runtime.batch.run_batch`, engine `ray`) on a private local Ray per configuration (scorer actors
x logical CPUs): Ray start, the first job on the fresh cluster (cold), the same job again (warm),
a 1,000-row job and the large input, whence each configuration's fixed cost per warm job and
streaming rate; (d) the loop with the PyOD reference model. Every writer uses the job's Parquet
options (no dictionaries for float columns). Each job is compared with a single-process run made
just before it, as the machine may be shared. Results: `benchmarks/results/batch.json` and a table.

    python benchmarks/bench_batch.py [--rows 1000000] [--large-rows 4000000] [--batch-size 100000]
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from models import detectors
from models.data import feature_matrix, read_table
from models.scorer import load
from models.store import ModelStore
from models.training import TrainRequest, split, train
from runtime.batch.outputs import writer_options

RESULTS = Path(__file__).parent / "results" / "batch.json"
CONFIGS = [  # (scorer actors, logical CPUs of the private Ray, rows per output file)
    (1, 2, 1_000_000),
    (2, 3, 1_000_000),
]
GOAL = 1.0  # the default job's rows/s over the single-process compiled loop's, at both sizes
TRAIN_ROWS, SEED = 20_000, 0
console = Console(stderr=True)


def rows(n: int, features: int, seed: int) -> np.ndarray:
    """Correlated Gaussian rows with 2% anomalies (as benchmarks/bench_scoring.py)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)) @ rng.normal(size=(features, features))
    X[rng.random(n) < 0.02] += rng.normal(scale=5.0, size=features)
    return X


def schema(names: list[str]) -> pa.Schema:
    """An `id` column and float64 features."""
    return pa.schema([("id", pa.int64()), *((name, pa.float64()) for name in names)])


def prepare(root: Path, n: int, large: int, features: int) -> tuple[dict[str, Path], ModelStore]:
    """Inputs of `n`, 1,000 and `large` rows (one file each, pyarrow's default layout) and a store
    holding `bench:1`, trained on other rows of the same distribution."""
    names = [f"f{j}" for j in range(features)]
    paths = {"input": root / "input.parquet", "tiny": root / "tiny.parquet", "large": root / "large.parquet"}
    for key, count in (("input", n), ("large", large)):
        with pq.ParquetWriter(paths[key], schema(names)) as writer:
            for first in range(0, count, n):
                X = rows(min(n, count - first), features, seed=1 + first // n)
                table = pa.table(
                    {"id": np.arange(first, first + len(X)), **{c: X[:, j] for j, c in enumerate(names)}}
                )
                writer.write_table(table)
                if key == "input":
                    pq.write_table(table.slice(0, 1000), paths["tiny"])
    training = rows(TRAIN_ROWS, features, seed=0)
    pq.write_table(pa.table({c: training[:, j] for j, c in enumerate(names)}), root / "train.parquet")
    store = ModelStore(str(root / "store"))
    train(TrainRequest("bench", "iforest", str(root / "train.parquet"), params={"random_state": SEED}), store)
    return paths, store


def reference_model(root: Path):
    """The PyOD IForest that training fitted (same rows, same seed): the parity reference."""
    X, _ = feature_matrix(read_table(root / "train.parquet"))
    fit_rows, _ = split(len(X), SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return detectors.fit(detectors.get("iforest"), X[fit_rows], {"random_state": SEED}, 0.1)


def pyarrow_loop(source: Path, target: Path, score, threshold: float, names: list[str], batch: int) -> float:
    """Seconds for one process to read `source` in batches, score them and write `target`."""
    started = time.perf_counter()
    writer = None
    for record_batch in pq.ParquetFile(source).iter_batches(batch_size=batch):
        table = pa.Table.from_batches([record_batch])
        X = np.ascontiguousarray(np.vstack([table.column(n).to_numpy() for n in names]).T)
        scores = score(X)
        table = table.append_column("score", pa.array(scores))
        table = table.append_column("label", pa.array((scores > threshold).astype(np.int64)))
        writer = writer or pq.ParquetWriter(target, table.schema, **writer_options(table.schema))
        writer.write_table(table)
    writer.close()
    return time.perf_counter() - started


def stages(ray_stats: str) -> list[dict]:
    """Per Ray Data operator: wall seconds and summed task seconds, from `Dataset.stats()` text."""
    found = []
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
    for match in re.finditer(
        r"Operator \d+ (.+?): (\d+) tasks executed.*? in ([\d.]+)s\n\* Remote wall time: "
        r".*?([\d.]+)(us|ms|s) total",
        ray_stats,
    ):
        name, tasks, wall, total, unit = match.groups()
        found.append(
            {
                "operator": name,
                "tasks": int(tasks),
                "wall_s": float(wall),
                "task_s": float(total) * units[unit],
            }
        )
    return found


def ray_config(paths: dict[str, Path], store: ModelStore, root: Path, config, batch: int) -> dict:
    """On a fresh private Ray: its start, the first job (cold), the same job again (warm), a 1,000-row
    job (the fixed cost of any job) and the large input (warm)."""
    import ray

    from runtime.batch.job import run_batch
    from runtime.batch.spec import BatchRequest

    actors, cpus, per_file = config
    started = time.perf_counter()
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - started

    def job(source: str, tag: str):
        output = root / f"ray-{tag}"
        options = {"batch_size": batch, "concurrency": actors, "rows_per_file": per_file, "engine": "ray"}
        report = run_batch(
            BatchRequest("bench", 1, str(paths[source]), str(output), store.uri, **options), progress=False
        )
        shutil.rmtree(output)
        return report

    try:
        cold, warm, tiny, large = (
            job("input", "cold"),
            job("input", "warm"),
            job("tiny", "tiny"),
            job("large", "large"),
        )
    finally:
        ray.shutdown()
    return {
        "actors": actors,
        "num_cpus": cpus,
        "rows_per_file": per_file,
        "files": len(cold.files),
        "ray_start_s": ray_start,
        "cold_s": cold.seconds,
        "warm_s": warm.seconds,
        "tiny_job_s": tiny.seconds,
        "large_s": large.seconds,
        "rows_per_s": cold.rows_per_second,
        "warm_rows_per_s": warm.rows_per_second,
        "rows_per_s_with_ray_start": cold.rows_in / (cold.seconds + ray_start),
        "large_rows_per_s": large.rows_per_second,
        "stages_cold": stages(cold.ray_stats),
        "stages_warm": stages(warm.ray_stats),
        "stages_large": stages(large.ray_stats),
    }


def auto_jobs(paths: dict[str, Path], store: ModelStore, root: Path, loop: dict, batch: int) -> dict:
    """The job as `raynomaly batch score` runs it by default (engine auto), at both sizes, each next to
    a single-process loop run just before it."""
    from runtime.batch.job import run_batch
    from runtime.batch.spec import BatchRequest

    found = {}
    for size, source in (("rows", "input"), ("large_rows", "large")):
        baseline = pyarrow_loop(paths[source], root / "single.parquet", **loop)
        output = root / f"auto-{size}"
        request = BatchRequest("bench", 1, str(paths[source]), str(output), store.uri, batch_size=batch)
        report = run_batch(request, progress=False)
        shutil.rmtree(output)
        found[size] = {"engine": report.engine, "s": report.seconds + report.ray_start_seconds,
                       "baseline_s": baseline}  # fmt: skip
        found[size]["ratio_to_single"] = baseline / found[size]["s"]
    return found


def crossover(entry: dict, rows_n: int, large_n: int, single_rate: float) -> dict:
    """Fixed cost and streaming rate of a configuration from its warm and large jobs (pure), and the
    input size from which it would reach GOAL x the single process (None: never)."""
    marginal = (large_n - rows_n) / max(entry["large_s"] - entry["warm_s"], 1e-9)
    fixed = entry["warm_s"] - rows_n / marginal
    needed = (
        GOAL * single_rate * fixed / (1 - GOAL * single_rate / marginal)
        if marginal > GOAL * single_rate
        else None
    )
    return {
        "streaming_rows_per_s": marginal,
        "fixed_s": fixed,
        "rows_to_reach_goal": needed and round(needed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--large-rows", type=int, default=4_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        root = Path(folder)
        with console.status("writing the inputs and training the model"):
            paths, store = prepare(root, args.rows, args.large_rows, args.features)
        model = load("bench", store=store.uri)
        loop = {
            "score": model.decision_function,
            "threshold": model.threshold_,
            "names": model.feature_names_in_,
            "batch": args.batch_size,
        }
        with console.status("one process, compiled scorer"):
            single = [
                pyarrow_loop(paths["input"], root / "single.parquet", **loop) for _ in range(args.rounds)
            ]
            single_large = pyarrow_loop(paths["large"], root / "single.parquet", **loop)
        with console.status("the default job (engine auto)"):
            auto = auto_jobs(paths, store, root, loop, args.batch_size)
        reference = reference_model(root)
        check = pq.read_table(paths["input"], columns=loop["names"]).slice(0, 10_000)
        X = np.column_stack([c.to_numpy() for c in check.columns])
        parity = float(np.abs(reference.decision_function(X) - model.decision_function(X)).max())
        with console.status("one process, PyOD reference"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyod_s = pyarrow_loop(
                paths["input"], root / "pyod.parquet", **{**loop, "score": reference.decision_function}
            )
        jobs = []
        for config in CONFIGS:  # each next to its own single-process baseline: the machine is shared
            with console.status(f"Ray Data: {config[0]} actor(s), {config[1]} CPUs, {config[2]:,} rows/file"):
                baseline = pyarrow_loop(paths["input"], root / "single.parquet", **loop)
                baseline_large = pyarrow_loop(paths["large"], root / "single.parquet", **loop)
                entry = ray_config(paths, store, root, config, args.batch_size)
            single.append(baseline)
            jobs.append(entry | {"baseline_s": baseline, "baseline_large_s": baseline_large})
    single_rate, large_rate = args.rows / statistics.median(single), args.large_rows / single_large
    for entry in jobs:
        rate, large = args.rows / entry["baseline_s"], args.large_rows / entry["baseline_large_s"]
        entry["ratio_to_single"] = entry["rows_per_s"] / rate
        entry["warm_ratio_to_single"] = entry["warm_rows_per_s"] / rate
        entry["ratio_to_single_with_ray_start"] = entry["rows_per_s_with_ray_start"] / rate
        entry["large_ratio_to_single"] = entry["large_rows_per_s"] / large
        entry |= crossover(entry, args.rows, args.large_rows, rate)
    best = max(jobs, key=lambda e: e["rows_per_s"])
    document = {
        "question": __doc__.splitlines()[0],
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "settings": {
            "rows": args.rows,
            "large_rows": args.large_rows,
            "features": args.features,
            "batch_size": args.batch_size,
            "rounds": args.rounds,
            "detector": "iforest",
            "backend": model.manifest.backend,
            "train_rows": TRAIN_ROWS,
            "input": "one Parquet file, pyarrow's default layout",
        },
        "libraries": {n: metadata.version(n) for n in ("ray", "pyarrow", "numpy", "numba", "pyod")},
        "single_process": {
            "compiled_s": statistics.median(single),
            "compiled_rounds_s": single,
            "compiled_rows_per_s": single_rate,
            "large_s": single_large,
            "large_rows_per_s": large_rate,
            "pyod_s": pyod_s,
            "pyod_rows_per_s": args.rows / pyod_s,
            "pyod_max_abs_diff_10k_rows": parity,
        },
        "auto": auto,
        "ray_data": jobs,
        "goal": {
            "goal": f"the default job >= {GOAL}x one process at {args.rows:,} and {args.large_rows:,} rows",
            "measured": [auto["rows"]["ratio_to_single"], auto["large_rows"]["ratio_to_single"]],
            "met": min(auto["rows"]["ratio_to_single"], auto["large_rows"]["ratio_to_single"]) >= GOAL,
            "best_ray_data_at_rows": best["ratio_to_single"],
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    out = Console(width=140)
    out.print(view(document))
    measured = " and ".join(f"{x:.2f}x" for x in document["goal"]["measured"])
    out.print(f"{'met ' if document['goal']['met'] else 'MISSED'}  {document['goal']['goal']}: {measured}")
    out.print(f"written to {RESULTS}")


def view(document: dict) -> Table:
    """The measured table: seconds and rows/s at both input sizes, each against one process."""
    settings, single = document["settings"], document["single_process"]
    table = Table(
        title=f"{settings['features']} features, Parquet -> Parquet, batches of {settings['batch_size']:,}"
    )
    for column in (
        "how",
        f"{settings['rows']:,} rows: s",
        "rows/s",
        "x 1 process",
        f"{settings['large_rows']:,} rows: s",
        "rows/s ",
        "x 1 process ",
    ):
        table.add_column(column, justify="left" if column == "how" else "right")

    def cells(seconds, rate, base, large_s, large_rate, large_base):
        return [
            f"{seconds:.2f}",
            f"{rate:,.0f}",
            f"{rate / base:.2f}x",
            f"{large_s:.2f}" if large_s else "",
            f"{large_rate:,.0f}" if large_rate else "",
            f"{large_rate / large_base:.2f}x" if large_rate else "",
        ]

    base, large_base = single["compiled_rows_per_s"], single["large_rows_per_s"]
    auto, rows, large_rows = document["auto"], settings["rows"], settings["large_rows"]
    small, large = auto["rows"], auto["large_rows"]
    table.add_row(
        f"raynomaly batch score (auto: {small['engine']} / {large['engine']})",
        *cells(small["s"], rows / small["s"], rows / small["baseline_s"], large["s"], large_rows / large["s"],
               large_rows / large["baseline_s"]),
    )  # fmt: skip
    table.add_row(
        "1 process, compiled",
        *cells(single["compiled_s"], base, base, single["large_s"], large_base, large_base),
    )
    table.add_row(
        "1 process, PyOD reference", *cells(single["pyod_s"], single["pyod_rows_per_s"], base, None, None, 1)
    )
    for e in document["ray_data"]:
        base, large_base = settings["rows"] / e["baseline_s"], settings["large_rows"] / e["baseline_large_s"]
        how = (
            f"Ray Data, {e['actors']} actor(s), {e['num_cpus']} CPUs, {e['rows_per_file'] // 1000}k rows/file"
        )
        table.add_row(f"{how}: cold", *cells(e["cold_s"], e["rows_per_s"], base, None, None, 1))
        start = e["cold_s"] + e["ray_start_s"]
        table.add_row(
            f"  + ray.init {e['ray_start_s']:.1f} s",
            *cells(start, e["rows_per_s_with_ray_start"], base, None, None, 1),
        )
        table.add_row(
            f"  warm (fixed {e['fixed_s']:.1f} s, streaming {e['streaming_rows_per_s']:,.0f}/s)",
            *cells(e["warm_s"], e["warm_rows_per_s"], base, e["large_s"], e["large_rows_per_s"], large_base),
        )
    return table


if __name__ == "__main__":
    main()
