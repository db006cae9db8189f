"""A gRPC load generator for the serving benchmarks (wrk speaks HTTP/1.1 only): `connections`
concurrent callers send the same PredictBatch (or, with `oip`, the Open Inference Protocol's
ModelInfer with raw FP64 contents) for `seconds`, then one JSON line: requests, failures, p50/p99 ms.
It is Python: it takes a core of its own, which the HTTP runs (wrk) do not.

    python benchmarks/grpc_load.py HOST:PORT MODEL ROWS FEATURES CONNECTIONS SECONDS [raynomaly|oip]
"""

import asyncio
import json
import sys
import time

import grpc
import numpy as np

from runtime.rpc import open_inference_pb2 as oip
from runtime.rpc import open_inference_pb2_grpc as oip_grpc
from runtime.rpc import raynomaly_pb2 as pb
from runtime.rpc import raynomaly_pb2_grpc as pb_grpc


def _call(channel, api: str, model: str, rows: int, features: int):
    """The stub method and the request it sends over and over."""
    values = np.random.default_rng(0).normal(size=rows * features)
    if api == "oip":
        tensor = oip.ModelInferRequest.InferInputTensor(
            name="features", datatype="FP64", shape=[rows, features]
        )
        request = oip.ModelInferRequest(
            model_name=model, inputs=[tensor], raw_input_contents=[values.tobytes()]
        )
        return oip_grpc.GRPCInferenceServiceStub(channel).ModelInfer, request
    request = pb.PredictBatchRequest(model=model, values=values, n_features=features)
    return pb_grpc.InferenceStub(channel).PredictBatch, request


async def main(target: str, model: str, rows: int, features: int, connections: int, seconds: float,
               api: str = "raynomaly") -> dict:  # fmt: skip
    latencies, failures = [], 0
    async with grpc.aio.insecure_channel(target) as channel:
        method, request = _call(channel, api, model, rows, features)
        deadline = time.monotonic() + seconds

        async def caller():
            nonlocal failures
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    await method(request)
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
    api = sys.argv[7] if len(sys.argv) > 7 else "raynomaly"
    print(
        json.dumps(
            asyncio.run(main(target, model, int(rows), int(features), int(connections), float(seconds), api))
        )
    )
