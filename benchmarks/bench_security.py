"""What do inference keys and TLS cost on serving throughput? One runtime (`raynomaly up --tls
self-signed`, the version inline on 2 gateway replicas), the same wrk runs in turns: keys on over
plain HTTP, keys off (`--insecure-no-auth`, applied in place), and keys on over HTTPS (TLS 1.3,
raynomaly's terminator in front of Serve's HAProxy). Each configuration is measured twice,
interleaved, so the machine's drift shows as the spread between rounds.

Results go to `benchmarks/results/security.json` and are printed as a table.

    python benchmarks/bench_security.py [--duration 10] [--rounds 2]
"""

import argparse
import json
import os
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_serving import Runtime, bearer, bodies, raynomaly, scratch, settle, timed  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "security.json"
PORTS = {"--http-port": 48000, "--grpc-port": 49000, "--dashboard-port": 48265, "--ray-port": 46379,
         "--metrics-port": 48080, "--https-port": 48443, "--grpcs-port": 49443}  # fmt: skip
HTTP, HTTPS = "http://127.0.0.1:48000", "https://127.0.0.1:48443"
SCENARIOS = ("json-1", "npy-1000")
console = Console(stderr=True)


def measure(config: str, base: str, header: str, seconds: int, round_: int, runs: list[dict]) -> None:
    for scenario in SCENARIOS:
        path, body, content_type, connections = bodies()[scenario]
        console.print(f"round {round_}: {config}: {scenario} x{connections} ...")
        runs.append(timed(base + path, body, content_type, connections, seconds, header,
                          config=config, scenario=scenario, round=round_))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    _, environ = scratch("security")
    flags = [str(part) for flag, port in PORTS.items() for part in (flag, port)]
    runs: list[dict] = []
    raynomaly(environ, "up", *flags, "--tls", "self-signed", "--replicas", "2")
    try:
        runtime = Runtime(environ)
        settle("gateway", 2)
        header = bearer(environ)
        keyed = runtime.desired.gateway
        for round_ in range(1, arguments.rounds + 1):
            measure("keys, HTTP", HTTP, header, arguments.duration, round_, runs)
            measure("keys, HTTPS (TLS 1.3)", HTTPS, header, arguments.duration, round_, runs)
            runtime.serve(runtime.desired.versions[0].options, keyed.model_copy(update={"access": None}))
            measure("no keys, HTTP", HTTP, "", arguments.duration, round_, runs)
            runtime.serve(runtime.desired.versions[0].options, keyed)
    finally:
        raynomaly(environ, "down", "--ray-port", str(PORTS["--ray-port"]))
    write(runs, arguments.duration)


def summary(runs: list[dict]) -> list[dict]:
    """Median req/s per configuration and scenario, and its ratio to no keys over HTTP."""
    rows = []
    for scenario in SCENARIOS:
        medians = {
            config: statistics.median(
                r["rps"] for r in runs if r["config"] == config and r["scenario"] == scenario
            )
            for config in dict.fromkeys(r["config"] for r in runs)
        }
        base = medians["no keys, HTTP"]
        for config, rps in medians.items():
            spread = [r["rps"] for r in runs if r["config"] == config and r["scenario"] == scenario]
            rows.append({"scenario": scenario, "config": config, "rps_median": rps,
                         "rps_rounds": spread, "vs_no_keys": rps / base})  # fmt: skip
    return rows


def write(runs: list[dict], seconds: int) -> None:
    document = {
        "question": " ".join(__doc__.split("\n\n")[0].split()),
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count()},
        "client": "wrk (2 threads; https without certificate checks)",
        "duration_s": seconds,
        "runs": runs,
        "summary": summary(runs),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    table = Table("scenario", "configuration", "req/s (median)", "rounds", "x no keys", title="auth and TLS")
    for row in document["summary"]:
        rounds = ", ".join(f"{r:,.0f}" for r in row["rps_rounds"])
        table.add_row(
            row["scenario"], row["config"], f"{row['rps_median']:,.0f}", rounds, f"{row['vs_no_keys']:.2f}"
        )
    Console(width=150).print(table)
    failed = sum(r["failed"] for r in runs)
    Console(width=150).print(f"failed requests: {failed}; written to {RESULTS}")


if __name__ == "__main__":
    main()
