"""Record real per-request latencies of a healthy run, for the judgement benchmark's simulations.

Sends single-row predictions at a steady rate (an open loop: requests leave on schedule whatever the
answers do) to a running runtime, alternating the pinned versions, and writes each request's send
time and latency as seen by the caller. Rows come from the demo's generator.

python benchmarks/record_latency.py --url http://127.0.0.1:8000 --model demo --versions 1,2 \
    --rps 30,100 --seconds 60 --output benchmarks/results/latency_samples.json
"""

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx
import numpy as np

from models.demo import readings


async def record(url: str, model: str, versions: list[int], rps: float, seconds: float) -> list[list[float]]:
    """[[sent_s, latency_ms, version], ...] for `rps * seconds` requests sent on schedule."""
    rows = readings(5000, 0.02, seed=1)
    samples: list[list[float]] = []
    async with httpx.AsyncClient(
        base_url=url, timeout=10.0, limits=httpx.Limits(max_connections=64)
    ) as client:

        async def one(i: int, sent: float) -> None:
            version = versions[i % len(versions)]
            body = {"model": model, "features": rows[i % len(rows)].tolist()}
            started = time.perf_counter()
            answer = await client.post(
                "/api/v1/predict", json=body, headers={"x-model-version": str(version)}
            )
            if answer.status_code == 200:
                samples.append([round(sent, 4), round((time.perf_counter() - started) * 1000, 3), version])

        tasks, begin = [], time.perf_counter()
        for i in range(int(rps * seconds)):
            due = begin + i / rps
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i, due - begin)))
        await asyncio.gather(*tasks)
    return sorted(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--model", default="demo")
    parser.add_argument("--versions", default="1,2")
    parser.add_argument("--rps", default="30,100")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/latency_samples.json"))
    args = parser.parse_args()
    versions = [int(v) for v in args.versions.split(",")]
    runs = {}
    for rps in (float(r) for r in args.rps.split(",")):
        samples = asyncio.run(record(args.url, args.model, versions, rps, args.seconds))
        latencies = np.array([s[1] for s in samples])
        print(f"{rps:g} req/s: {len(samples)} answered; p50 {np.percentile(latencies, 50):.2f} ms, "
              f"p99 {np.percentile(latencies, 99):.2f} ms, max {latencies.max():.1f} ms")  # fmt: skip
        runs[f"{rps:g}"] = samples
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"model": args.model, "versions": versions, "runs": runs}))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
