"""A gRPC load generator for bench_serving.py (wrk speaks HTTP/1.1 only): `connections` concurrent
callers send the same PredictBatch for `seconds`, then one JSON line: requests, failures, p50/p99 ms.
It is Python: it takes a core of its own, which the HTTP runs (wrk) do not.

    python benchmarks/grpc_load.py HOST:PORT MODEL ROWS FEATURES CONNECTIONS SECONDS
"""

import asyncio
import json
import sys
import time

import grpc
import numpy as np

from runtime.rpc import raynomaly_pb2 as pb
from runtime.rpc import raynomaly_pb2_grpc as pb_grpc


async def main(target: str, model: str, rows: int, features: int, connections: int, seconds: float) -> dict:
    values = np.random.default_rng(0).normal(size=rows * features)
    request = pb.PredictBatchRequest(model=model, values=values, n_features=features)
    latencies, failures = [], 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.InferenceStub(channel)
        deadline = time.monotonic() + seconds

        async def caller():
            nonlocal failures
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    await stub.PredictBatch(request, metadata=(("application", "gateway"),))
                    latencies.append(time.perf_counter() - started)
                except grpc.aio.AioRpcError:
                    failures += 1

        started = time.monotonic()
        await asyncio.gather(*(caller() for _ in range(connections)))
        elapsed = time.monotonic() - started
    ms = np.asarray(latencies) * 1000
    return {"requests": len(latencies), "failed": failures, "seconds": elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}  # fmt: skip


if __name__ == "__main__":
    target, model, rows, features, connections, seconds = sys.argv[1:7]
    print(
        json.dumps(
            asyncio.run(main(target, model, int(rows), int(features), int(connections), float(seconds)))
        )
    )
