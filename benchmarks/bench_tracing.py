"""What does Serve's tracing cost on serving throughput at its default share (0.01 of requests)?
The same runtime settings started twice in turns, tracing on (`up --tracing-sample 0.01`, spans to
Serve's span files) and off, the version inline on 2 gateway replicas, json-1 with wrk; each round
starts the runtime afresh (Serve reads its tracing settings when its processes start), so the
machine's drift shows as the spread between rounds. In-process, the cost of one gateway span: off
(no provider), on but not sampled, and sampled to an exporter that keeps nothing.

Results go to `benchmarks/results/tracing.json` and are printed as a table.

    python benchmarks/bench_tracing.py [--duration 10] [--rounds 2] [--in-process-only]
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_serving import HTTP, PORTS, bearer, bodies, raynomaly, scratch, settle, timed  # noqa: E402

from runtime.settings import DEFAULT_TRACING_SAMPLE  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "tracing.json"
SCENARIO = "json-1"
CONFIGS = {
    "tracing off": [],
    f"tracing {DEFAULT_TRACING_SAMPLE}": ["--tracing-sample", str(DEFAULT_TRACING_SAMPLE)],
}
console = Console(stderr=True)


def span_cost(repeats: int = 200_000) -> list[dict]:
    """Microseconds per `runtime.spans.span` block, in this process, under the span Serve would have
    opened: tracing off, a request not sampled, a sampled one (to a processor that drops every span,
    so exporting is not counted); and the mean over a request's 3 spans at the default share."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    from runtime import spans

    def timed(label: str, parent) -> dict:
        with trace.use_span(parent):
            started = time.perf_counter()
            for _ in range(repeats):
                with spans.span("score", model="bench", version=1, role="stable", rows=1):
                    pass
        return {"config": label, "us_per_span": (time.perf_counter() - started) / repeats * 1e6}

    unsampled = NonRecordingSpan(SpanContext(1, 1, is_remote=False, trace_flags=TraceFlags(0)))
    rows = [timed("off (no provider)", unsampled)]
    provider = TracerProvider()
    provider.add_span_processor(SpanProcessor())
    trace._TRACER_PROVIDER = provider  # the benchmark's own process: set and reset at will
    rows.append(timed("on, request not sampled", unsampled))
    with provider.get_tracer("ray.serve").start_as_current_span("replica_handle_request") as sampled:
        rows.append(timed("on, request sampled", sampled))
    trace._TRACER_PROVIDER = None
    share = DEFAULT_TRACING_SAMPLE
    mean = share * rows[2]["us_per_span"] + (1 - share) * rows[1]["us_per_span"]
    rows.append({"config": f"on, {share} sampled: 3 spans a request, mean", "us_per_span": 3 * mean})
    return rows


def serving(duration: int, rounds: int) -> list[dict]:
    _, environ = scratch("tracing")
    flags = [str(part) for flag, port in PORTS.items() for part in (flag, port)]
    path, body, content_type, connections = bodies()[SCENARIO]
    runs: list[dict] = []
    for round_ in range(1, rounds + 1):
        for config, tracing in CONFIGS.items():
            raynomaly(environ, "up", *flags, "--replicas", "2", *tracing)
            try:
                settle("gateway", 2)
                console.print(f"round {round_}: {config}: {SCENARIO} x{connections} ...")
                runs.append(timed(HTTP + path, body, content_type, connections, duration, bearer(environ),
                                  warm_s=2, config=config, scenario=SCENARIO, round=round_))  # fmt: skip
            finally:
                raynomaly(environ, "down", "--ray-port", str(PORTS["--ray-port"]))
    return runs


def summary(runs: list[dict]) -> list[dict]:
    """Median req/s and p99 per configuration, and the ratio to tracing off."""
    medians = {c: statistics.median(r["rps"] for r in runs if r["config"] == c) for c in CONFIGS}
    return [{"config": c, "rps_median": rps, "rps_rounds": [r["rps"] for r in runs if r["config"] == c],
             "p99_ms_median": statistics.median(r["p99_ms"] for r in runs if r["config"] == c),
             "vs_off": rps / medians["tracing off"]} for c, rps in medians.items()]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--in-process-only", action="store_true", help="Measure span cost only (no Ray).")
    arguments = parser.parse_args()
    spans = span_cost()
    runs = [] if arguments.in_process_only else serving(arguments.duration, arguments.rounds)
    document = {
        "question": " ".join(__doc__.split("\n\n")[0].split()),
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count()},
        "client": "wrk (2 threads)",
        "duration_s": arguments.duration,
        "span_cost": spans,
        "runs": runs,
        "summary": summary(runs) if runs else "serving not measured (--in-process-only)",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    table = Table("in-process", "us per span", title="one gateway span")
    for row in spans:
        table.add_row(row["config"], f"{row['us_per_span']:.2f}")
    Console(width=150).print(table)
    if runs:
        served = Table("configuration", "req/s (median)", "rounds", "p99 ms", "x off", title=SCENARIO)
        for row in document["summary"]:
            rounds = ", ".join(f"{r:,.0f}" for r in row["rps_rounds"])
            served.add_row(row["config"], f"{row['rps_median']:,.0f}", rounds, f"{row['p99_ms_median']:.1f}",
                           f"{row['vs_off']:.2f}")  # fmt: skip
        Console(width=150).print(served)
    Console(width=150).print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
