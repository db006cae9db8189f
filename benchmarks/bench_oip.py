"""Does the Open Inference Protocol cost throughput? The same runtime (`raynomaly up`, the version
inline on 2 gateway replicas, inference keys on), the same rows, in turns: raynomaly's `.npy` batch
endpoint against OIP `infer` with the binary tensor extension (FP64 and FP32) and with JSON tensors,
one-row JSON against one-row OIP JSON, and over gRPC PredictBatch against ModelInfer with raw
contents. Each scenario is measured in every round, interleaved, so drift shows as the spread.

wrk (C) drives HTTP; gRPC uses benchmarks/grpc_load.py (Python, a core of its own, keys off for
it). Results go to `benchmarks/results/oip.json` and are printed as a table.

    python benchmarks/bench_oip.py [--duration 10] [--rounds 2]
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_serving import (  # noqa: E402
    BATCH_ROWS,
    FEATURES,
    GRPC,
    HTTP,
    MODEL,
    PORTS,
    Runtime,
    bearer,
    raynomaly,
    scratch,
    settle,
    timed,
)

from runtime.codec import JSON, NPY  # noqa: E402
from runtime.oip.rest import OCTETS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "oip.json"
BASELINE = {"oip-binary-1000": "npy-1000", "oip-binary-fp32-1000": "npy-1000", "oip-json-1000": "npy-1000",
            "oip-json-1": "json-1", "grpc-oip-1000": "grpc-1000"}  # fmt: skip
console = Console(stderr=True)


def _oip(rows: np.ndarray, binary: bool, datatype: str = "FP64") -> tuple[bytes, str, str]:
    """An OIP infer body, its content type and extra header: JSON tensors, or a JSON header and
    the raw bytes after it."""
    tensor = {"name": "features", "datatype": datatype, "shape": list(rows.shape)}
    if not binary:
        return json.dumps({"inputs": [{**tensor, "data": rows.ravel().tolist()}]}).encode(), JSON, ""
    raw = rows.astype({"FP64": "<f8", "FP32": "<f4"}[datatype]).tobytes()
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()  # fmt: skip
    return header + raw, OCTETS, f"Inference-Header-Content-Length: {len(header)}"


def scenarios() -> dict[str, tuple[str, bytes, str, str, int, int]]:
    """Scenario -> (path, body, content type, extra header, connections, rows)."""
    rng = np.random.default_rng(0)
    batch, one = rng.normal(size=(BATCH_ROWS, FEATURES)), rng.normal(size=(1, FEATURES))
    npy = io.BytesIO()
    np.save(npy, batch)
    infer = f"/v2/models/{MODEL}/infer"
    single = json.dumps({"model": MODEL, "features": one[0].tolist()}).encode()
    return {
        "npy-1000": (f"/api/v1/predict/batch?model={MODEL}", npy.getvalue(), NPY, "", 8, BATCH_ROWS),
        "oip-binary-1000": (infer, *_oip(batch, True), 8, BATCH_ROWS),
        "oip-binary-fp32-1000": (infer, *_oip(batch, True, "FP32"), 8, BATCH_ROWS),
        "oip-json-1000": (infer, *_oip(batch, False), 8, BATCH_ROWS),
        "json-1": ("/api/v1/predict", single, JSON, "", 64, 1),
        "oip-json-1": (infer, *_oip(one, False), 64, 1),
    }


def measure_http(header: str, seconds: int, round_: int, runs: list[dict]) -> None:
    for scenario, (path, body, content_type, extra, connections, rows) in scenarios().items():
        console.print(f"round {round_}: {scenario} x{connections} ...")
        headers = "\n".join(h for h in (header, extra) if h)
        run = timed(
            HTTP + path, body, content_type, connections, seconds, headers, scenario=scenario, round=round_
        )
        runs.append({**run, "rows_per_s": run["rps"] * rows})


def measure_grpc(seconds: int, round_: int, runs: list[dict]) -> None:
    for scenario, api in (("grpc-1000", "raynomaly"), ("grpc-oip-1000", "oip")):
        console.print(f"round {round_}: {scenario} x8 ...")
        command = [sys.executable, str(ROOT / "benchmarks" / "grpc_load.py"), GRPC, MODEL, str(BATCH_ROWS),
                   str(FEATURES), "8", str(seconds), api]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rps = result["requests"] / result["seconds"]
        runs.append({"scenario": scenario, "round": round_, "connections": 8, "rps": rps,
                     "rows_per_s": rps * BATCH_ROWS, "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"],
                     "requests": result["requests"], "failed": result["failed"]})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    _, environ = scratch("oip")
    flags = [str(part) for flag, port in PORTS.items() for part in (flag, port)]
    runs: list[dict] = []
    raynomaly(environ, "up", *flags, "--replicas", "2")
    try:
        runtime = Runtime(environ)
        settle("gateway", 2)
        header = bearer(environ)
        keyed = runtime.desired.gateway
        for round_ in range(1, arguments.rounds + 1):
            measure_http(header, arguments.duration, round_, runs)
            runtime.serve(runtime.desired.versions[0].options, keyed.model_copy(update={"access": None}))
            measure_grpc(arguments.duration, round_, runs)
            runtime.serve(runtime.desired.versions[0].options, keyed)
    finally:
        raynomaly(environ, "down", "--ray-port", str(PORTS["--ray-port"]))
    write(runs, arguments.duration)


def summary(runs: list[dict]) -> list[dict]:
    """Median rows/s per scenario, and its ratio to raynomaly's own endpoint for the same rows."""
    medians = {s: statistics.median(r["rows_per_s"] for r in runs if r["scenario"] == s)
               for s in dict.fromkeys(r["scenario"] for r in runs)}  # fmt: skip
    rows = []
    for scenario, rate in medians.items():
        baseline = BASELINE.get(scenario)
        rounds = [r["rows_per_s"] for r in runs if r["scenario"] == scenario]
        ratio = rate / medians[baseline] if baseline else None
        rows.append({"scenario": scenario, "rows_per_s_median": rate, "rows_per_s_rounds": rounds,
                     "baseline": baseline, "vs_baseline": ratio})  # fmt: skip
    return rows


def write(runs: list[dict], seconds: int) -> None:
    document = {
        "question": " ".join(__doc__.split("\n\n")[0].split()),
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count()},
        "client": "wrk (HTTP, 2 threads), benchmarks/grpc_load.py (gRPC, Python)",
        "duration_s": seconds,
        "runs": runs,
        "summary": summary(runs),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    table = Table("scenario", "rows/s (median)", "rounds", "against", "x", title="Open Inference Protocol")
    for row in document["summary"]:
        rounds = ", ".join(f"{r:,.0f}" for r in row["rows_per_s_rounds"])
        ratio = f"{row['vs_baseline']:.2f}" if row["vs_baseline"] is not None else ""
        table.add_row(
            row["scenario"], f"{row['rows_per_s_median']:,.0f}", rounds, row["baseline"] or "", ratio
        )
    Console(width=150).print(table)
    Console(width=150).print(f"failed requests: {sum(r['failed'] for r in runs)}; written to {RESULTS}")


if __name__ == "__main__":
    main()
