"""How fast the controller rolls back a regression, and how often it rolls back a healthy version.

Starts its own local runtime and controller. First the newcomer's canary: the command the README
prints (10 -> 50 -> 100, 15 s windows, default thresholds) while `raynomaly loadtest` sends 10
single rows a second. Then, under a steady Locust load on model `sensor`:
- healthy: canaries of an equivalent version (another isolation-forest seed), 10 -> 50 -> 100;
- latency: at 50%, the candidate's batching is reconfigured so every request waits 20 ms more
  (the stable p99 in the gateway is ~1 ms), at a random point of an analysis window;
- drift: a candidate trained on data shifted just enough that its scores of live rows have a
  PSI above 0.25 against its reference (calibrated offline, reported; judged on KS).
Times come from the controller's audit log: from the regression's start (the injection, or the
candidate first receiving traffic) to the table with all traffic on stable being applied.
Results: benchmarks/results/rollout.json and a table on stdout.

python benchmarks/bench_rollout.py [--newcomer 10] [--healthy 10] [--latency 3] [--drift 3]
    [--interval 10]
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PORTS = {
    "--http-port": 48000,
    "--grpc-port": 49000,
    "--dashboard-port": 48265,
    "--ray-port": 46379,
    "--metrics-port": 48080,
}
CONTROLLER_PORT = 48600
WINDOW = {"min_requests": 25}
INJECTED_MS = 20.0
"""The latency regression: every request of the candidate waits this much more for its batch (the
stable p99 in the gateway is ~1 ms, so this is well past the default floors of 1.5x and +5 ms)."""


def raynomaly(environ: dict, *args: str) -> str:
    command = [str(Path(sys.executable).with_name("raynomaly")), *args]
    result = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"raynomaly {' '.join(args)}: {result.stderr}")
    return result.stdout


def drift_shift(train_csv: Path, store) -> tuple[float, float, Path]:
    """The smallest shift of the training data whose model scores live rows with PSI >= 0.4
    against its own reference (offline, no Ray): (shift, PSI, data file)."""
    import pyarrow as pa

    from controller.analysis.stats import psi
    from models.data import read_table, write_table
    from models.demo import FEATURES, readings
    from models.distribution import percentiles
    from models.scorer import load
    from models.training import TrainRequest, train
    from runtime.series import PERCENTILE_EDGES

    table = read_table(str(train_csv))
    X = np.column_stack([c.to_numpy() for c in table.columns])
    live = readings(25_000, 0.02, seed=1)[5000:15000]
    scratch = type(store)(tempfile.mkdtemp())
    for shift in (0.2, 0.3, 0.4, 0.5, 0.75, 1.0):
        path = train_csv.with_name(f"shifted-{shift}.csv")
        write_table(pa.table({name: X[:, j] + shift for j, name in enumerate(FEATURES)}), path)
        manifest = train(TrainRequest("probe", "iforest", str(path), params={"random_state": 0}), scratch)
        scorer = load("probe", manifest.version, scratch.uri)
        buckets = np.searchsorted(
            PERCENTILE_EDGES, percentiles(manifest.reference, scorer.decision_function(live))
        )
        value = psi(np.bincount(buckets, minlength=21)[:20], np.ones(20))
        if value >= 0.4:
            return shift, value, path
    raise RuntimeError("no shift up to 1.0 reaches PSI 0.4")


class Bench:
    def __init__(self, root: Path, interval: float):
        from controller.settings import ControllerSettings

        self.root, self.interval = root, interval
        self.environ = {
            **os.environ,
            "RAYNOMALY_HOME": str(root / "state"),
            "RAYNOMALY_STORE": str(root / "models"),
            "RAY_metrics_report_interval_ms": "1000",
            "RAYNOMALY_CONTROLLER_PORT": str(CONTROLLER_PORT),
            "PYTHONPATH": str(ROOT),
        }
        self.settings = ControllerSettings.resolve(self.environ)
        self.client = None

    def api(self) -> httpx.Client:
        if self.client is None:
            token = self.settings.client_token()
            self.client = httpx.Client(
                base_url=f"http://127.0.0.1:{CONTROLLER_PORT}",
                timeout=30.0,
                headers={"Authorization": f"Bearer {token}"},
            )
        return self.client

    def deploy(self, version: int, **spec) -> str:
        body = {"version": version, "interval_s": self.interval, "thresholds": WINDOW, **spec}
        return self.api().post("/api/v1/models/sensor/deploy", json=body).raise_for_status().json()["id"]

    def rollout(self, rollout_id: str) -> dict:
        return self.api().get(f"/api/v1/rollouts/{rollout_id}").raise_for_status().json()

    def wait(self, rollout_id: str, until, timeout_s: float = 300.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = self.rollout(rollout_id)
            if until(answer["rollout"]):
                return answer
            time.sleep(0.25)
        raise TimeoutError(
            f"rollout {rollout_id} stuck: {answer['rollout']['phase']} {answer['rollout']['reason']}"
        )

    def finished(self, rollout_id: str) -> dict:
        terminal = {"Succeeded", "RolledBack", "Aborted", "Failed"}
        return self.wait(rollout_id, lambda r: r["phase"] in terminal and r["applied"])

    def applied_at(self, rollout_id: str) -> list[float]:
        """Times the controller applied a table of this rollout (from the audit log)."""
        entries = (
            self.api().get("/api/v1/audit", params={"limit": 100000}).raise_for_status().json()["entries"]
        )
        return [e["ts"] for e in entries if e["rollout"] == rollout_id and e["action"] == "applied"]

    def newcomer(self) -> dict:
        """The canary the README prints, with `raynomaly loadtest` at a person's rate alongside."""
        data = str(self.root / "demo" / "train.csv")
        command = [str(Path(sys.executable).with_name("raynomaly")), "loadtest", "sensor", "--rps", "10",
                   "--duration", "60s", "--data", data, "--json"]  # fmt: skip
        load = subprocess.Popen(
            command, env=self.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(5)
        started = time.time()
        answer = self.finished(self.deploy(2, steps=[10, 50, 100], interval_s=15.0, thresholds={}))
        out, _ = load.communicate(timeout=180)
        sent = json.loads(out) if out.strip() else {}
        return {
            "phase": answer["rollout"]["phase"],
            "seconds": time.time() - started,
            "verdicts": verdict_names(answer),
            "failed_measurements": failing(answer),
            "reason": answer["rollout"]["reason"],
            "loadtest": sent,
        }

    def reset(self) -> None:
        raynomaly(self.environ, "traffic", "set", "sensor", "1=100")

    def stable_p99_ms(self) -> float:
        from controller.analysis.stats import quantile
        from controller.analysis.window import increase, summarise
        from controller.sources import source_for

        source = source_for("scrape", f"http://127.0.0.1:{PORTS['--metrics-port']}/metrics")
        before = source.snapshot("sensor")
        time.sleep(self.interval)
        window = summarise(increase(before, source.snapshot("sensor")))[1]
        return quantile(0.99, window.latency_bounds, window.latency_cumulative)

    def inject_latency(self, wait_s: float) -> None:
        from runtime.cluster import ensure_token
        from runtime.desired import Batching, ScorerOptions
        from runtime.record import read_runtime, read_served
        from runtime.serve_api import ServeApi
        from runtime.serving import put, wait_ready

        record, current = read_runtime(self.settings.runtime), read_served(self.settings.runtime).desired
        slow = ScorerOptions(batching=Batching(batch_wait_timeout_s=wait_s))
        versions = [
            v.model_copy(update={"options": slow}) if (v.model, v.version) == ("sensor", 2) else v
            for v in current.versions
        ]
        api = ServeApi(record.dashboard_url, ensure_token(self.settings.runtime.token_path))
        desired = current.model_copy(update={"versions": versions})
        desired = put(api, self.settings.runtime, desired, current, based_on=current.revision)
        wait_ready(api, record.http_url, desired, 120)


def verdict_names(answer: dict) -> list[str]:
    return [e["name"] for e in answer["events"] if e["kind"] == "verdict"]


def values(answer: dict, name: str) -> list[float | None]:
    """The value of measurement `name` in every judged window, in order."""
    verdicts = [e["detail"] for e in answer["events"] if e["kind"] == "verdict"]
    return [m["value"] for v in verdicts for m in v["measurements"] if m["name"] == name]


def failing(answer: dict) -> list[str]:
    verdicts = [e["detail"] for e in answer["events"] if e["kind"] == "verdict"]
    return sorted({m["name"] for v in verdicts for m in v["measurements"] if m["outcome"] == "Failed"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--healthy", type=int, default=10)
    parser.add_argument("--latency", type=int, default=3)
    parser.add_argument("--drift", type=int, default=3)
    parser.add_argument("--newcomer", type=int, default=10)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()
    from models.demo import write as write_demo
    from models.store import ModelStore
    from models.training import TrainRequest, train

    root = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    write_demo(root / "demo")
    store = ModelStore(str(root / "models"))
    for seed in (0, 1):
        train(
            TrainRequest(
                "sensor", "iforest", str(root / "demo" / "train.csv"), params={"random_state": seed}
            ),
            store,
        )
    shift, offline_psi, shifted = drift_shift(root / "demo" / "train.csv", store)
    train(TrainRequest("sensor", "iforest", str(shifted), params={"random_state": 0}), store)
    print(f"drift candidate: training data shifted by {shift}, offline PSI {offline_psi:.3f}", flush=True)
    bench = Bench(root, args.interval)
    flags = [str(part) for flag, port in PORTS.items() for part in (flag, port)]
    raynomaly(bench.environ, "up", *flags)
    runs = []
    for i in range(args.newcomer):  # before the steady load: the traffic is the newcomer's own
        bench.reset()
        runs.append({"scenario": "newcomer", "run": i, **bench.newcomer()})
        print(runs[-1], flush=True)
    load = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("locust")),
            "-f",
            str(ROOT / "benchmarks" / "rollout_load.py"),
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "--host",
            f"http://127.0.0.1:{PORTS['--http-port']}",
            "--json",
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env={**bench.environ, "BENCH_RATE": "12.5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        bench.reset()
        for i in range(args.healthy):
            bench.reset()
            answer = bench.finished(bench.deploy(2, steps=[10, 50, 100]))
            runs.append(
                {
                    "scenario": "healthy",
                    "run": i,
                    "phase": answer["rollout"]["phase"],
                    "verdicts": verdict_names(answer),
                    "failed_measurements": failing(answer),
                }
            )
            print(runs[-1], flush=True)
        for i in range(args.latency):
            bench.reset()
            p99 = bench.stable_p99_ms()
            # several analysed steps, so the injection lands while the candidate takes half the traffic
            rollout_id = bench.deploy(2, steps=[50, 60, 70, 80, 90, 100], failure_limit=0)
            bench.wait(rollout_id, lambda r: r["window_started"] is not None)
            time.sleep(random.Random(i).uniform(0, args.interval))
            bench.inject_latency(INJECTED_MS / 1000.0)
            injected = time.time()
            answer = bench.finished(rollout_id)
            back = max(bench.applied_at(rollout_id))
            ratio = values(answer, "latency")
            runs.append(
                {
                    "scenario": "latency",
                    "run": i,
                    "phase": answer["rollout"]["phase"],
                    "stable_p99_ms": p99,
                    "injected_wait_ms": INJECTED_MS,
                    "latency_ratios": ratio,
                    "seconds_to_stable": back - injected,
                    "intervals_to_stable": (back - injected) / args.interval,
                    "failed_measurements": failing(answer),
                }
            )
            print(runs[-1], flush=True)
        for i in range(args.drift):
            bench.reset()
            rollout_id = bench.deploy(3, steps=[10, 50, 100], failure_limit=0)
            answer = bench.finished(rollout_id)
            applied = bench.applied_at(rollout_id)
            distances = values(answer, "ks_reference")
            runs.append(
                {
                    "scenario": "drift",
                    "run": i,
                    "phase": answer["rollout"]["phase"],
                    "ks_reference": distances,
                    "seconds_to_stable": applied[-1] - applied[0],
                    "intervals_to_stable": (applied[-1] - applied[0]) / args.interval,
                    "failed_measurements": failing(answer),
                }
            )
            print(runs[-1], flush=True)
    finally:
        load.send_signal(signal.SIGINT)
        try:
            out, err = load.communicate(timeout=60)
            stats = json.loads(out) if out.strip() else []
        except (subprocess.TimeoutExpired, json.JSONDecodeError):
            load.kill()
            out, err = load.communicate()
            stats = []
        if not stats:
            print(f"the steady load printed no statistics ({load.returncode}): {err[-2000:]}", flush=True)
        raynomaly(bench.environ, "down", "--ray-port", str(PORTS["--ray-port"]))
    requests = sum(s["num_requests"] for s in stats)
    failures = sum(s["num_failures"] for s in stats)
    write(
        runs,
        {
            "interval_s": args.interval,
            "drift_shift": shift,
            "drift_offline_psi": offline_psi,
            "load_requests": requests,
            "load_failures": failures,
        },
    )


def write(runs: list[dict], context: dict) -> None:
    healthy = [r for r in runs if r["scenario"] == "healthy"]
    newcomer = [r for r in runs if r["scenario"] == "newcomer"]
    summary = {
        "false_rollbacks": sum(r["phase"] != "Succeeded" for r in healthy),
        "healthy_runs": len(healthy),
        "newcomer_succeeded": sum(r["phase"] == "Succeeded" for r in newcomer),
        "newcomer_runs": len(newcomer),
        **{
            f"{s}_intervals_to_stable_max": max(
                (r["intervals_to_stable"] for r in runs if r["scenario"] == s), default=None
            )
            for s in ("latency", "drift")
        },
    }
    document = {"machine": f"{os.cpu_count()} cores", "context": context, "summary": summary, "runs": runs}
    out = ROOT / "benchmarks" / "results" / "rollout.json"
    out.write_text(json.dumps(document, indent=2))
    print("| scenario | runs | outcome | time to stable (intervals) |\n|---|---|---|---|")
    print(f"| healthy canary | {len(healthy)} | {summary['false_rollbacks']} false rollbacks | - |")
    print(
        f"| newcomer's canary, 10 req/s | {len(newcomer)} | {summary['newcomer_succeeded']} Succeeded | - |"
    )
    for s in ("latency", "drift"):
        mine = [r for r in runs if r["scenario"] == s]
        if mine:
            times = ", ".join(f"{r['intervals_to_stable']:.2f}" for r in mine)
            print(f"| {s} regression | {len(mine)} | {', '.join(r['phase'] for r in mine)} | {times} |")
    print(f"load: {context['load_requests']} requests, {context['load_failures']} failed; wrote {out}")


if __name__ == "__main__":
    main()
