"""Where does serving stand against its peers, on the same compiled scorer and the same machine: one
FastAPI + uvicorn process, bare Ray Serve (one deployment scoring in its own replica, behind the
same HAProxy ingress), and raynomaly with the version inline (one hop), dedicated (a second hop
through a deployment handle), inline with dynamic batching, and inline on 2 gateway replicas?

wrk (C) is the HTTP client, so the client leaves the cores to the server; gRPC uses a Python
client (benchmarks/grpc_load.py), which takes a core of its own. Results go to
`benchmarks/results/serving.json` and are printed as a table.

    python benchmarks/bench_serving.py [--duration 10]
"""

import argparse
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

from controller.settings import ControllerSettings  # noqa: E402
from models.store import ModelStore  # noqa: E402
from models.training import TrainRequest, train  # noqa: E402
from runtime.desired import Batching, GatewayOptions, ScorerOptions  # noqa: E402
from runtime.tokens import mint  # noqa: E402
from tests import wrk  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "serving.json"
PORTS = {"--http-port": 48000, "--grpc-port": 49000, "--dashboard-port": 48265, "--ray-port": 46379,
         "--metrics-port": 48080}  # fmt: skip
HTTP, GRPC, PEER = "http://127.0.0.1:48000", "127.0.0.1:49000", "http://127.0.0.1:48500"
FEATURES, BATCH_ROWS, MODEL = 20, 1000, "bench"
console = Console(stderr=True)


def bodies() -> dict[str, tuple[str, bytes, str, int]]:
    """Scenario -> (path, body, content type, connections)."""
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(BATCH_ROWS, FEATURES))
    npy = io.BytesIO()
    np.save(npy, batch)
    arrow = io.BytesIO()
    table = pa.table({f"f{j}": batch[:, j] for j in range(FEATURES)})
    with pa.ipc.new_stream(arrow, table.schema) as writer:
        writer.write_table(table)
    single = json.dumps({"model": MODEL, "features": rng.normal(size=FEATURES).tolist()}).encode()
    batch_path = f"/api/v1/predict/batch?model={MODEL}"
    return {
        "json-1": ("/api/v1/predict", single, "application/json", 64),
        "npy-1000": (batch_path, npy.getvalue(), "application/x-npy", 8),
        "arrow-1000": (batch_path, arrow.getvalue(), "application/vnd.apache.arrow.stream", 8),
    }


def measure(target: str, base: str, scenarios: list[str], seconds: int, runs: list[dict]) -> None:
    """wrk runs of `scenarios` against `base` (a warm-up second first), recorded in `runs`."""
    for scenario in scenarios:
        path, body, content_type, connections = bodies()[scenario]
        wrk.run(base + path, body, content_type, connections, 1)
        console.print(f"{target}: {scenario} x{connections} ...")
        result = wrk.run(base + path, body, content_type, connections, seconds)
        rows = 1 if scenario == "json-1" else BATCH_ROWS
        runs.append({"target": target, "scenario": scenario, "connections": connections,
                     "requests": result.requests, "failed": result.failed, "rps": result.rate,
                     "rows_per_s": result.rate * rows, "p50_ms": result.p50_ms,
                     "p99_ms": result.p99_ms})  # fmt: skip


def measure_grpc(target: str, seconds: int, runs: list[dict]) -> None:
    console.print(f"{target}: grpc-1000 x8 ...")
    command = [sys.executable, str(ROOT / "benchmarks" / "grpc_load.py"), GRPC, MODEL, str(BATCH_ROWS),
               str(FEATURES), "8", str(seconds)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rps = result["requests"] / result["seconds"]
    runs.append({"target": target, "scenario": "grpc-1000", "connections": 8, "requests": result["requests"],
                 "failed": result["failed"], "rps": rps, "rows_per_s": rps * BATCH_ROWS,
                 "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"]})  # fmt: skip


def scratch(name: str) -> tuple[Path, dict[str, str]]:
    """A benchmark's own runtime folder and environment: state, model store and keyring under a new
    temporary folder (made this process's too, so that training signs with the keyring `up` reads),
    and MODEL trained on FEATURES correlated columns (an isolation forest, seed 0)."""
    root = Path(tempfile.mkdtemp(prefix=f"raynomaly-bench-{name}-"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, FEATURES)) @ rng.normal(size=(FEATURES, FEATURES))
    arrow_csv.write_csv(pa.table({f"f{j}": X[:, j] for j in range(FEATURES)}), root / "train.csv")
    environ = {**os.environ, "RAYNOMALY_HOME": str(root / "state"), "RAYNOMALY_STORE": str(root / "models"),
               "RAYNOMALY_KEYS_DIR": str(root / "keys"), "RAYNOMALY_CONTROLLER_PORT": "48600",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # fmt: skip
    os.environ.update({k: environ[k] for k in ("RAYNOMALY_KEYS_DIR", "RAYNOMALY_HOME")})
    train(TrainRequest(MODEL, "iforest", str(root / "train.csv"), params={"random_state": 0}),
          ModelStore(str(root / "models")))  # fmt: skip
    return root, environ


def bearer(environ: dict[str, str]) -> str:
    """The `authorization` header line of a client key for the benchmark's traffic (no rate it reaches)."""
    secret = ControllerSettings.resolve(environ).secret_path.read_text().strip()
    return f"authorization: Bearer {mint(secret, 'bench', 'client', 3600, rate=1e6)}"


def timed(url: str, body: bytes, content_type: str, connections: int, seconds: int, header: str = "",
          warm_s: int = 1, **labels) -> dict:  # fmt: skip
    """One wrk measurement after a warm-up, as a run record: `labels`, then what wrk counted."""
    wrk.run(url, body, content_type, connections, warm_s, header=header)
    result = wrk.run(url, body, content_type, connections, seconds, header=header)
    return {**labels, "connections": connections, "rps": result.rate, "p50_ms": result.p50_ms,
            "p99_ms": result.p99_ms, "requests": result.requests, "failed": result.failed}  # fmt: skip


def raynomaly(environ: dict, *args: str) -> None:
    command = [str(Path(sys.executable).with_name("raynomaly")), *args]
    result = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"raynomaly {' '.join(args)}: {result.stderr}")


class Runtime:
    """The local runtime `raynomaly up` started, driven the way the CLI drives it."""

    def __init__(self, environ: dict):
        from runtime.cluster import ensure_token
        from runtime.record import read_runtime, read_served
        from runtime.serve_api import ServeApi
        from runtime.settings import RuntimeSettings

        self.settings = RuntimeSettings.resolve(environ)
        self.record, self.desired = read_runtime(self.settings), read_served(self.settings).desired
        self.api = ServeApi(self.record.dashboard_url, ensure_token(self.settings.token_path))

    def serve(self, options: ScorerOptions = ScorerOptions(), gateway: GatewayOptions = GatewayOptions()):
        """The bench model's version 1 with `options`, behind a gateway with `gateway` options."""
        from runtime.serving import put, wait_ready

        versions = [v.model_copy(update={"options": options}) for v in self.desired.versions]
        desired = self.desired.model_copy(update={"versions": versions, "gateway": gateway})
        self.desired = put(self.api, self.settings, desired, based_on=self.desired.revision)
        wait_ready(self.api, self.record.http_url, self.desired, 300)
        settle("gateway", gateway.num_replicas)

    def serve_bare(self, store: str) -> None:
        """Bare Ray Serve instead of raynomaly: one deployment, the same ingress."""
        http = self.desired.endpoints
        self.api.apply({
            "proxy_location": "HeadOnly",
            "http_options": {"host": http.host, "port": http.http_port},
            "applications": [{"name": "bare", "route_prefix": "/", "import_path": "peers:bare",
                              "args": {"store": store, "model": MODEL},
                              "deployments": [{"name": "Bare", "num_replicas": 1,
                                               "ray_actor_options": {"num_cpus": 0.5}}]}],
        })  # fmt: skip
        wait_answering(f"{HTTP}/api/v1/predict")
        settle("bare", 1)


def settle(app: str, replicas: int, timeout_s: float = 180.0) -> None:
    """Wait until HAProxy sends `app`'s traffic straight to its `replicas` replicas, all healthy, and
    holds no other application's backend: until then traffic may go to Serve's Python proxy (the
    backup server), 10x slower (an application replaced at the same route keeps its backend, with
    only the backup in it, for a while)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = httpx.get("http://127.0.0.1:8404/stats;csv", timeout=5).text.splitlines()
        rows = [line.split(",") for line in stats if line.startswith(f"http-{app},SERVE_REPLICA_")]
        stale = [line for line in stats if line.startswith("http-") and not line.startswith(f"http-{app},")]
        if not stale and len(rows) == replicas and all(row[17] == "UP" for row in rows):
            time.sleep(2)
            return
        time.sleep(1)
    raise TimeoutError(f"HAProxy did not route {app} to {replicas} healthy replica(s) in {timeout_s:.0f} s")


def wait_answering(url: str, timeout_s: float = 300.0) -> None:
    body = {"model": MODEL, "features": [0.0] * FEATURES}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.post(url, json=body, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    seconds = parser.parse_args().duration
    root = Path(tempfile.mkdtemp(prefix="raynomaly-bench-"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, FEATURES)) @ rng.normal(size=(FEATURES, FEATURES))
    arrow_csv.write_csv(pa.table({f"f{j}": X[:, j] for j in range(FEATURES)}), root / "train.csv")
    store = ModelStore(str(root / "models"))
    train(TrainRequest(MODEL, "iforest", str(root / "train.csv"), params={"random_state": 0}), store)
    environ = {**os.environ, "RAYNOMALY_HOME": str(root / "state"), "RAYNOMALY_STORE": store.uri,
               "RAYNOMALY_CONTROLLER_PORT": "48600", "PYTHONPATH": str(ROOT / "benchmarks"),
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # fmt: skip
    runs: list[dict] = []
    peer_command = [sys.executable, str(ROOT / "benchmarks" / "peers.py"), store.uri, MODEL, "48500"]
    peer = subprocess.Popen(peer_command, env=environ)
    try:
        wait_answering(f"{PEER}/api/v1/predict")
        measure("FastAPI, 1 process", PEER, ["json-1", "npy-1000", "arrow-1000"], seconds, runs)
    finally:
        peer.terminate()
        peer.wait(timeout=30)
    flags = [str(part) for flag, port in PORTS.items() for part in (flag, port)]
    http_scenarios = ["json-1", "npy-1000", "arrow-1000"]
    # bare Serve on a cluster of its own: an application replaced at the same route leaves HAProxy
    # sending that route to Serve's Python proxy for a while (measured: 10x slower)
    # no inference keys: the peers have none either (benchmarks/bench_security.py measures their cost)
    raynomaly(environ, "up", *flags, "--insecure-no-auth")
    try:
        Runtime(environ).serve_bare(store.uri)
        measure("bare Ray Serve", HTTP, http_scenarios, seconds, runs)
    finally:
        raynomaly(environ, "down", "--ray-port", str(PORTS["--ray-port"]))
    raynomaly(environ, "up", *flags, "--insecure-no-auth")
    try:
        runtime = Runtime(environ)
        settle("gateway", 1)
        measure("raynomaly inline", HTTP, http_scenarios, seconds, runs)
        measure_grpc("raynomaly inline", seconds, runs)
        runtime.serve(ScorerOptions(batching=Batching(max_batch_size=64, batch_wait_timeout_s=0.005)))
        measure("raynomaly inline, batched (64, 5 ms)", HTTP, ["json-1"], seconds, runs)
        runtime.serve(ScorerOptions(placement="dedicated"))
        measure("raynomaly dedicated", HTTP, http_scenarios, seconds, runs)
        measure_grpc("raynomaly dedicated", seconds, runs)
        runtime.serve(gateway=GatewayOptions(num_replicas=2))
        measure("raynomaly inline, 2 gateway replicas", HTTP, http_scenarios, seconds, runs)
    finally:
        raynomaly(environ, "down", "--ray-port", str(PORTS["--ray-port"]))
    write(runs, seconds)


def _rate(runs: list[dict], target: str, scenario: str, key: str = "rps") -> float:
    return next(r[key] for r in runs if r["target"] == target and r["scenario"] == scenario)


def goals(runs: list[dict]) -> list[dict]:
    """The issue's goals and what else the runs say, as ratios within this run."""
    inline, bare, peer = "raynomaly inline", "bare Ray Serve", "FastAPI, 1 process"
    best_peer = max(_rate(runs, peer, s, "rows_per_s") for s in ("npy-1000", "arrow-1000"))
    best_inline = max(_rate(runs, inline, s, "rows_per_s") for s in ("npy-1000", "arrow-1000"))
    dedicated, batched, doubled = (
        "raynomaly dedicated",
        "raynomaly inline, batched (64, 5 ms)",
        "raynomaly inline, 2 gateway replicas",
    )
    single = _rate(runs, inline, "json-1")
    measured = [
        ("inline single-row req/s >= 0.9x bare Ray Serve", 0.9, single / _rate(runs, bare, "json-1")),
        ("inline 1,000-row .npy rows/s >= 0.9x bare Ray Serve", 0.9,
         _rate(runs, inline, "npy-1000") / _rate(runs, bare, "npy-1000")),
        ("inline batch rows/s >= 0.8x the FastAPI process (best binary format each)", 0.8,
         best_inline / best_peer),
        ("dedicated single-row req/s, x inline (the second hop)", None,
         _rate(runs, dedicated, "json-1") / single),
        ("batched single-row req/s, x unbatched (does batching pay inline?)", None,
         _rate(runs, batched, "json-1") / single),
        ("2 gateway replicas single-row req/s, x 1 replica (2 cores)", None,
         _rate(runs, doubled, "json-1") / single),
    ]  # fmt: skip
    return [
        {
            "goal": goal,
            "minimum": minimum,
            "measured": value,
            "met": None if minimum is None else value >= minimum,
        }
        for goal, minimum, value in measured
    ]


def write(runs: list[dict], seconds: int) -> None:
    """The JSON document and the table."""
    document = {
        "question": " ".join(__doc__.split("\n\n")[0].split()),
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count()},
        "client": "wrk (HTTP, 2 threads), benchmarks/grpc_load.py (gRPC, Python)",
        "duration_s": seconds,
        "rows_per_batch": BATCH_ROWS,
        "features": FEATURES,
        "runs": runs,
        "goals": goals(runs),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    table = Table(
        "target", "scenario", "conns", "req/s", "rows/s", "p50 ms", "p99 ms", "failed", title="serving"
    )
    for r in runs:
        rates = (f"{r['rps']:,.0f}", f"{r['rows_per_s']:,.0f}", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}")
        table.add_row(r["target"], r["scenario"], str(r["connections"]), *rates, str(r["failed"]))
    out = Console(width=150)
    out.print(table)
    for goal in document["goals"]:
        verdict = "      " if goal["met"] is None else ("met   " if goal["met"] else "MISSED")
        out.print(f"{verdict} {goal['goal']}: {goal['measured']:.2f}x")
    out.print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
