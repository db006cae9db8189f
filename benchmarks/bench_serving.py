"""What request and row rates does serving reach: batched vs unbatched, JSON vs binary, HTTP vs
gRPC, HAProxy vs Serve's proxy, against one FastAPI + uvicorn process with the same scorer?

Locust (headless, FastHttpUser) runs in its own process on the same machine as the server.
Results go to `benchmarks/results/serving.json` and are printed as a table.

    python benchmarks/bench_serving.py [--duration 15]
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
from pyarrow import csv as arrow_csv
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.store import ModelStore  # noqa: E402
from models.training import TrainRequest, train  # noqa: E402
from runtime.desired import Batching, ScorerOptions  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "serving.json"
PORTS = [
    "--http-port",
    "48000",
    "--grpc-port",
    "49000",
    "--dashboard-port",
    "48265",
    "--ray-port",
    "46379",
    "--metrics-port",
    "48080",
]
HTTP, GRPC, PEER = "http://127.0.0.1:48000", "127.0.0.1:49000", "http://127.0.0.1:48500"
FEATURES, BATCH_ROWS = 20, 1000
console = Console(stderr=True)


def locust(host: str, scenario: str, users: int, seconds: int, **extra) -> dict:
    """One headless Locust run; its aggregated stats."""
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "BENCH_SCENARIO": scenario,
            "BENCH_FEATURES": str(FEATURES),
            "BENCH_ROWS": str(BATCH_ROWS),
            "PYTHONPATH": str(ROOT),
            **{k: str(v) for k, v in extra.items()},
        }
        command = [
            str(Path(sys.executable).with_name("locust")),
            "-f",
            str(ROOT / "benchmarks" / "locustfile.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            host,
            "--csv",
            f"{folder}/run",
            "--only-summary",
            "--stop-timeout",
            "5",
        ]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
        if not Path(f"{folder}/run_stats.csv").exists():
            raise RuntimeError(f"locust wrote no stats:\n{result.stderr[-3000:]}")
        with open(f"{folder}/run_stats.csv") as f:
            row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    rows_per_request = 1 if scenario == "predict" else BATCH_ROWS
    rps = float(row["Requests/s"])
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": rps,
        "rows_per_s": rps * rows_per_request,
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
    }


def raynomaly(environ: dict, *args: str) -> None:
    command = [str(Path(sys.executable).with_name("raynomaly")), *args]
    result = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"raynomaly {' '.join(args)}: {result.stderr}")


def serve_versions(environ: dict) -> None:
    """bench v1 unbatched (max_batch_size 1) and v2 batched (64), both deployed, v2 routed."""
    from runtime.cluster import ensure_token
    from runtime.serve_api import ServeApi
    from runtime.serving import apply, read_record, wait_ready, with_traffic, write_record
    from runtime.settings import RuntimeSettings
    from runtime.traffic import ModelTraffic

    settings = RuntimeSettings.resolve(environ)
    record = read_record(settings)
    desired = with_traffic(record.desired, "bench", ModelTraffic(weights={1: 0, 2: 100}))
    unbatched = ScorerOptions(batching=Batching(max_batch_size=1, batch_wait_timeout_s=0.0))
    versions = [
        v.model_copy(update={"options": unbatched}) if v.version == 1 else v for v in desired.versions
    ]
    desired = desired.model_copy(update={"versions": versions})
    api = ServeApi(record.dashboard_url, ensure_token(settings.token_path))
    apply(api, desired)
    write_record(settings, record.model_copy(update={"desired": desired}))
    wait_ready(api, record.http_url, desired, 300)


def costs(store: str) -> dict:
    """Where one 1,000-row request's time goes in-process: parse, score, encode (ms, median of 20)."""
    import models

    model = models.load("bench", 2, store)
    X = np.random.default_rng(1).normal(size=(BATCH_ROWS, FEATURES))
    body = json.dumps({"model": "bench", "instances": X.tolist()}).encode()
    buffer = io.BytesIO()
    np.save(buffer, X)
    npy = buffer.getvalue()
    steps = {
        "json_parse": lambda: np.asarray(json.loads(body)["instances"], dtype=np.float64),
        "npy_parse": lambda: np.load(io.BytesIO(npy), allow_pickle=False),
        "score": lambda: model.decision_function(X),
        "json_encode": lambda: json.dumps({"scores": X[:, 0].tolist(), "labels": [0] * BATCH_ROWS}),
    }
    timings = {}
    for name, step in steps.items():
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            step()
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = float(np.median(samples))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    args = parser.parse_args()
    seconds = args.duration
    root = Path(tempfile.mkdtemp(prefix="raynomaly-bench-"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, FEATURES)) @ rng.normal(size=(FEATURES, FEATURES))
    arrow_csv.write_csv(pa.table({f"f{j}": X[:, j] for j in range(FEATURES)}), root / "train.csv")
    store = ModelStore(str(root / "models"))
    for _ in range(2):
        train(TrainRequest("bench", "iforest", str(root / "train.csv"), params={"random_state": 0}), store)
    environ = {**os.environ, "RAYNOMALY_HOME": str(root / "state"), "RAYNOMALY_STORE": store.uri}
    runs = []

    def record(target: str, scenario: str, users: int, host: str, **extra) -> None:
        console.print(f"{target}: {scenario} x{users} ...")
        runs.append(
            {
                "target": target,
                "scenario": scenario,
                "users": users,
                **locust(host, scenario, users, seconds, **extra),
            }
        )

    for ingress in ("haproxy", "proxy"):
        raynomaly(environ, "up", "--ingress", ingress, *PORTS)
        try:
            serve_versions(environ)
            target = f"serve+{ingress}"
            users_list = (1, 16, 64) if ingress == "haproxy" else (64,)
            for users in users_list:
                record(f"{target} unbatched", "predict", users, HTTP, BENCH_VERSION=1, BENCH_MODEL="bench")
                record(f"{target} batched", "predict", users, HTTP, BENCH_VERSION=2, BENCH_MODEL="bench")
            for scenario in ("batch_json", "batch_npy", "grpc_batch"):
                if ingress == "proxy" and scenario == "batch_json":
                    continue
                record(target, scenario, 8, HTTP, BENCH_VERSION=2, BENCH_MODEL="bench", BENCH_GRPC=GRPC)
        finally:
            raynomaly(environ, "down", "--ray-port", "46379")
    peer = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "peer.py"), store.uri, "bench", "48500"],
        env={**environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    try:
        for _ in range(120):
            try:
                httpx.post(f"{PEER}/api/v1/predict", json={"features": [0.0] * FEATURES}, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        record("fastapi peer", "predict", 64, PEER, BENCH_MODEL="bench")
        for scenario in ("batch_json", "batch_npy"):
            record("fastapi peer", scenario, 8, PEER, BENCH_MODEL="bench")
    finally:
        peer.terminate()
        peer.wait(timeout=30)
    write(runs, costs(store.uri), seconds)


def _find(runs, target, scenario, users=None):
    return next(
        r for r in runs if r["target"] == target and r["scenario"] == scenario and users in (None, r["users"])
    )


def write(runs: list[dict], cost: dict, seconds: int) -> None:
    """Goals as ratios within this run, the JSON document and the table."""
    batched = _find(runs, "serve+haproxy batched", "predict", 64)["rps"]
    unbatched = _find(runs, "serve+haproxy unbatched", "predict", 64)["rps"]
    npy = _find(runs, "serve+haproxy", "batch_npy")["rows_per_s"]
    as_json = _find(runs, "serve+haproxy", "batch_json")["rows_per_s"]
    peer_best = max(_find(runs, "fastapi peer", s)["rows_per_s"] for s in ("batch_json", "batch_npy"))
    goals = [
        {"goal": "batched single-row rps >= 3x unbatched at 64 users", "measured": batched / unbatched},
        {
            "goal": "batch endpoint rows/s >= 0.8x the FastAPI peer's (best format each)",
            "measured": npy / peer_best,
        },
        {"goal": "binary batch rows/s >= 2x JSON's", "measured": npy / as_json},
    ]
    for goal, minimum in zip(goals, (3.0, 0.8, 2.0), strict=True):
        goal["met"] = goal["measured"] >= minimum
    document = {
        "question": __doc__.splitlines()[0],
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count()},
        "duration_s": seconds,
        "rows_per_batch": BATCH_ROWS,
        "features": FEATURES,
        "runs": runs,
        "in_process_costs_ms": cost,
        "goals": goals,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    table = Table(
        "target", "scenario", "users", "rps", "rows/s", "p50 ms", "p99 ms", "failures", title="serving"
    )
    for r in runs:
        table.add_row(
            r["target"],
            r["scenario"],
            str(r["users"]),
            f"{r['rps']:,.0f}",
            f"{r['rows_per_s']:,.0f}",
            f"{r['p50_ms']:.0f}",
            f"{r['p99_ms']:.0f}",
            str(r["failures"]),
        )
    out = Console()
    out.print(table)
    out.print(
        "in-process costs of one 1,000-row request (ms): "
        + ", ".join(f"{k} {v:.2f}" for k, v in cost.items())
    )
    for goal in goals:
        out.print(f"{'met ' if goal['met'] else 'MISSED'}  {goal['goal']}: {goal['measured']:.2f}x")
    out.print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
