"""Does the rollout judgement cry wolf, and how fast does it catch a real regression? The sequential
judges against the fixed-threshold judge they replaced, side by side on the same simulated traffic.

Traffic: per-request latencies recorded on a live runtime (benchmarks/results/latency_samples.json,
from benchmarks/record_latency.py: an idle machine and one sharing its CPU with a busy process, which
is heavy-tailed and bursty), replayed in order from a random offset so both versions see the same
bursts; Poisson arrivals at the total rate; each request goes to the candidate with its share;
scores are percentiles of the version's reference (uniform for a healthy version). Everything is
bucketed exactly as the runtime buckets it (LATENCY_MS, the 20 percentile buckets).

- healthy, as each judge runs a default canary (10% -> 50% -> 100%, 15 s windows): how often a
  same-speed candidate is rolled back or paused;
- healthy, held: each step held 20 windows (looks every 5 s, 60 per step): the false-rollback rate
  over many looks, against alpha;
- regressions at a held share (10%, 50%), 8 windows: p99 x1.2/x1.5/x2 (the whole distribution, or
  the slowest 2% only), +20 ms and +200 ms on every request (a candidate holding rows to batch them),
  +1%/+5% server errors, score shifts of PSI 0.1/0.25/0.5: share detected and detection times.

python benchmarks/bench_judgement.py [--canaries 1000] [--regressions 200] [--processes 2]
Results: benchmarks/results/judgement.json and tables on stdout.
"""

import argparse
import json
import math
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import norm
from threshold_judge import FAILURE_LIMIT, window_failed  # next to this script

from controller.analysis.assess import alpha_share, ceilings
from controller.analysis.judges import Arms
from controller.analysis.regressions import names, rejects
from controller.analysis.window import VersionWindow
from controller.rollouts.spec import RolloutSpec
from controller.rollouts.strategies import strategy_for
from runtime.series import LATENCY_MS, PERCENTILE_EDGES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "benchmarks/results/latency_samples.json"
RESULTS = ROOT / "benchmarks/results/judgement.json"
BOUNDS = np.array([*LATENCY_MS, math.inf])
INTERVAL_S, LOOK_S = 15.0, 5.0
SPEC = RolloutSpec(model="demo", candidate=2, canary={"steps": [10, 50, 100]}, interval_s=INTERVAL_S)
ALPHA = alpha_share(SPEC.alpha, strategy_for(SPEC.strategy).judged_steps(SPEC), baseline=True, paired=False)
RATES = (10.0, 30.0, 100.0)
SHARES = (0.1, 0.5)
ANOMALY_PERCENTILE = 0.95


@dataclass
class Arm:
    """One version's cumulative counts."""

    latency: np.ndarray = field(default_factory=lambda: np.zeros(len(BOUNDS)))
    percentiles: np.ndarray = field(default_factory=lambda: np.zeros(20))
    requests: float = 0.0
    errors: float = 0.0
    anomalies: float = 0.0

    def add(self, latencies: np.ndarray, errors: np.ndarray, scores: np.ndarray) -> None:
        self.latency += np.bincount(np.searchsorted(BOUNDS, latencies, side="left"), minlength=len(BOUNDS))
        self.percentiles += np.bincount(
            np.minimum(np.searchsorted(PERCENTILE_EDGES, scores, side="left"), 19), minlength=20
        )
        self.requests += len(latencies)
        self.errors += float(errors.sum())
        self.anomalies += float((scores > ANOMALY_PERCENTILE).sum())

    def window(self, since: "Arm | None" = None) -> VersionWindow:
        latency, percentiles = self.latency, self.percentiles
        requests, errors, anomalies = self.requests, self.errors, self.anomalies
        if since is not None:
            latency, percentiles = latency - since.latency, percentiles - since.percentiles
            requests, errors, anomalies = (
                requests - since.requests,
                errors - since.errors,
                anomalies - since.anomalies,
            )
        return VersionWindow(
            requests=requests, server_errors=errors, latency_bounds=list(BOUNDS),
            latency_cumulative=list(np.cumsum(latency)), rows=requests, anomalies=anomalies,
            percentiles=percentiles.copy(),
        )  # fmt: skip

    def copy(self) -> "Arm":
        return Arm(self.latency.copy(), self.percentiles.copy(), self.requests, self.errors, self.anomalies)


@dataclass(frozen=True)
class Regression:
    name: str
    latency: float = 1.0
    tail_only: bool = False
    added_ms: float = 0.0
    errors: float = 0.0
    shift: float = 0.0
    """Score shift in standard deviations of the reference (percentile -> normal -> + shift)."""


def psi_shift(target: float) -> float:
    """The normal shift whose 20-bucket percentile histogram has PSI `target` against uniform."""
    edges = np.r_[0.0, PERCENTILE_EDGES]
    low, high = 0.0, 3.0
    for _ in range(60):
        middle = (low + high) / 2
        shares = np.diff(norm.cdf(norm.ppf(np.clip(edges, 1e-12, 1 - 1e-12)) - middle))
        psi = float(np.sum((shares - 0.05) * np.log(shares / 0.05)))
        low, high = (middle, high) if psi < target else (low, middle)
    return (low + high) / 2


REGRESSIONS = [
    *(Regression(f"p99 x{k:g} whole", latency=k) for k in (1.2, 1.5, 2.0)),
    *(Regression(f"p99 x{k:g} tail", latency=k, tail_only=True) for k in (1.2, 1.5, 2.0)),
    Regression("+20 ms", added_ms=20.0),
    Regression("+200 ms (batching)", added_ms=200.0),
    Regression("errors +1%", errors=0.01),
    Regression("errors +5%", errors=0.05),
    *(Regression(f"PSI {p:g}", shift=psi_shift(p)) for p in (0.1, 0.25, 0.5)),
]


class Traffic:
    """Replays one recorded run: consecutive recorded latencies, Poisson arrivals."""

    def __init__(self, latencies: np.ndarray, rate: float, rng: np.random.Generator):
        self.latencies, self.rate, self.rng = latencies, rate, rng
        self.position = int(rng.integers(len(latencies)))
        self.tail = float(np.percentile(latencies, 98))

    def second(self, share: float, regression: Regression) -> tuple[tuple, tuple]:
        """One second of requests as (latencies, errors, scores) for the candidate and the stable."""
        n = int(self.rng.poisson(self.rate))
        index = (self.position + np.arange(n)) % len(self.latencies)
        self.position = int((self.position + n) % len(self.latencies))
        latencies = self.latencies[index].copy()
        mine = self.rng.random(n) < share
        if regression.latency != 1.0:
            slower = mine & (latencies > self.tail) if regression.tail_only else mine
            latencies[slower] *= regression.latency
        latencies[mine] += regression.added_ms
        errors = mine & (self.rng.random(n) < regression.errors)
        scores = self.rng.random(n)
        if regression.shift:
            scores[mine] = norm.cdf(norm.ppf(scores[mine]) + regression.shift)
        return (latencies[mine], errors[mine], scores[mine]), (latencies[~mine], errors[~mine], scores[~mine])


def sequential_fails(candidate: Arm, stable: Arm) -> bool:
    arms = Arms(candidate.window(), stable.window())
    return bool(arms.candidate.requests) and any(
        rejects(n, SPEC.thresholds, arms, ALPHA) for n in names(True, False)
    )


def ceiling_fails(candidate: Arm, since: Arm) -> bool:
    return any(m.outcome.value == "Failed" for m in ceilings(SPEC.thresholds, candidate.window(since)))


def held(latencies, rate, share, regression, windows, seed) -> dict:
    """One held step: when (seconds) each judge rolls back, or pauses (old judge), or None."""
    rng = np.random.default_rng(seed)
    traffic = Traffic(latencies, rate, rng)
    candidate, stable = Arm(), Arm()
    opened = (Arm(), Arm())
    new = {"rolled_back": None}
    old = {"rolled_back": None, "paused": None}
    old_failed = old_inconclusive = new_ceilings = 0
    for second in range(1, int(windows * INTERVAL_S) + 1):
        mine, theirs = traffic.second(share, regression)
        candidate.add(*mine)
        stable.add(*theirs)
        closing = second % INTERVAL_S == 0
        if new["rolled_back"] is None and (second % LOOK_S == 0):
            if sequential_fails(candidate, stable):
                new["rolled_back"] = second
            elif closing and ceiling_fails(candidate, opened[0]):
                new_ceilings += 1
                if new_ceilings > FAILURE_LIMIT:
                    new["rolled_back"] = second
        if closing and old["rolled_back"] is None and old["paused"] is None:
            failed = window_failed(candidate.window(opened[0]), stable.window(opened[1]))
            if failed:
                old_failed += 1
                if old_failed > FAILURE_LIMIT:
                    old["rolled_back"] = second
            elif failed is None:
                old_inconclusive += 1
                if old_inconclusive > SPEC.inconclusive_limit:
                    old["paused"] = second
        if closing:
            opened = (candidate.copy(), stable.copy())
        if (
            new["rolled_back"] is not None
            and (old["rolled_back"] or old["paused"])
            and regression.name != "healthy"
        ):
            break
    return {"sequential": new, "thresholds": old}


def canary(latencies, rate, regression, seed) -> dict:
    """A default canary as each judge runs it: outcome per judge (Succeeded / RolledBack / Paused)."""
    outcomes = {}
    for judge in ("sequential", "thresholds"):
        rng = np.random.default_rng(seed)
        traffic = Traffic(latencies, rate, rng)
        outcome = "Succeeded"
        for share in (0.1, 0.5):
            candidate, stable, failed, inconclusive = Arm(), Arm(), 0, 0
            step_done = False
            second = 0
            while not step_done:
                opened = (candidate.copy(), stable.copy())
                for _ in range(int(INTERVAL_S)):
                    second += 1
                    mine, theirs = traffic.second(share, regression)
                    candidate.add(*mine)
                    stable.add(*theirs)
                    if judge == "sequential" and second % LOOK_S == 0 and sequential_fails(candidate, stable):
                        outcome = "RolledBack"
                        break
                if outcome != "Succeeded":
                    break
                if judge == "sequential":
                    if ceiling_fails(candidate, opened[0]):
                        failed += 1
                        outcome = "RolledBack" if failed > FAILURE_LIMIT else outcome
                    else:
                        step_done = True
                else:
                    verdict = window_failed(candidate.window(opened[0]), stable.window(opened[1]))
                    if verdict:
                        failed += 1
                        outcome = "RolledBack" if failed > FAILURE_LIMIT else outcome
                    elif verdict is None:
                        inconclusive += 1
                        outcome = "Paused" if inconclusive > SPEC.inconclusive_limit else outcome
                    else:
                        step_done = True
                if outcome != "Succeeded":
                    break
            if outcome != "Succeeded":
                break
        outcomes[judge] = outcome
    return outcomes


def _run(job: tuple) -> dict:
    kind, regime, rate, share, regression, count, windows, seed = job
    latencies = np.array([s[1] for s in json.loads(SAMPLES.read_text())["runs"][regime]])
    if kind == "canary":
        runs = [canary(latencies, rate, regression, seed + i) for i in range(count)]
    else:
        runs = [held(latencies, rate, share, regression, windows, seed + i) for i in range(count)]
    return {"kind": kind, "regime": regime, "rate": rate, "share": share, "regression": regression.name,
            "runs": runs}  # fmt: skip


def summarise(result: dict) -> dict:
    runs, row = result["runs"], {k: v for k, v in result.items() if k != "runs"}
    row["canaries"] = len(runs)
    for judge in ("sequential", "thresholds"):
        if result["kind"] == "canary":
            for outcome in ("RolledBack", "Paused", "Succeeded"):
                row[f"{judge}_{outcome}"] = sum(r[judge] == outcome for r in runs) / len(runs)
            continue
        times = [r[judge]["rolled_back"] for r in runs if r[judge]["rolled_back"] is not None]
        row[f"{judge}_rolled_back"] = len(times) / len(runs)
        row[f"{judge}_paused"] = sum(bool(r[judge].get("paused")) for r in runs) / len(runs)
        row[f"{judge}_median_s"] = float(np.median(times)) if times else None
        row[f"{judge}_p90_s"] = float(np.percentile(times, 90)) if times else None
        for n in (2, 4):
            row[f"{judge}_within_{n}_intervals"] = sum(t <= n * INTERVAL_S for t in times) / len(runs)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--held", type=int, default=300)
    parser.add_argument("--regressions", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    healthy = Regression("healthy")
    regimes = {10.0: "idle-30", 30.0: "idle-30", 100.0: "idle-100"}
    jobs = []
    for rate in RATES:
        for regime in (regimes[rate], "contended-30" if rate < 60 else "contended-60"):
            jobs.append(("canary", regime, rate, None, healthy, args.canaries, 0, 1))
            for share in SHARES:
                jobs.append(("held", regime, rate, share, healthy, args.held, 20, 10_000))
        for share in SHARES:
            for regression in REGRESSIONS:
                jobs.append(("held", "contended-30" if rate < 60 else "contended-60", rate, share, regression,
                             args.regressions, 8, 20_000))  # fmt: skip
    started = time.perf_counter()
    rows = []
    with multiprocessing.Pool(args.processes) as pool:
        for i, result in enumerate(pool.imap_unordered(_run, jobs), 1):
            rows.append(summarise(result))
            what = " ".join(str(result[k]) for k in ("kind", "regime", "rate", "share", "regression"))
            print(f"[{i}/{len(jobs)} {time.perf_counter() - started:.0f} s] {what}", flush=True)
    rows.sort(key=lambda r: (r["kind"], r["regression"], r["rate"], str(r["share"]), r["regime"]))
    summary = {"alpha": SPEC.alpha, "alpha_per_judge_and_step": ALPHA, "interval_s": INTERVAL_S}
    RESULTS.write_text(json.dumps({**summary, "look_s": LOOK_S, "rows": rows}, indent=1))
    _print(rows)
    print(f"wrote {RESULTS}")


def _cell(row: dict, judge: str) -> str:
    found = f"{row[f'{judge}_rolled_back']:.1%}"
    if row[f"{judge}_median_s"] is not None:
        found += f" ({row[f'{judge}_median_s']:.0f} / {row[f'{judge}_p90_s']:.0f} s)"
    return found


def _print(rows: list[dict]) -> None:
    print("\nhealthy canaries run to the end (10% -> 50% -> 100%, 15 s windows)")
    print("| regime | req/s | sequential: rolled back / paused | thresholds: rolled back / paused |")
    for r in (r for r in rows if r["kind"] == "canary"):
        sequential = f"{r['sequential_RolledBack']:.1%} / {r['sequential_Paused']:.1%}"
        print(f"| {r['regime']} | {r['rate']:g} | {sequential} | {r['thresholds_RolledBack']:.1%} / "
              f"{r['thresholds_Paused']:.1%} |")  # fmt: skip
    print("\nheld steps (healthy: 20 windows; regressions: 8), share of runs rolled back (median / p90 s)")
    print("| case | regime | req/s | share | sequential | thresholds |")
    for r in (r for r in rows if r["kind"] == "held"):
        paused = f", {r['thresholds_paused']:.0%} paused" if r["thresholds_paused"] else ""
        case = f"| {r['regression']} | {r['regime']} | {r['rate']:g} | {r['share']:.0%}"
        print(f"{case} | {_cell(r, 'sequential')} | {_cell(r, 'thresholds')}{paused} |")


if __name__ == "__main__":
    main()
