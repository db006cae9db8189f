"""Locust users for bench_serving.py; the scenario comes from the environment.

BENCH_SCENARIO: predict | batch_json | batch_npy | grpc_batch
BENCH_MODEL, BENCH_FEATURES, BENCH_ROWS (rows per batch request), BENCH_VERSION (pin, optional),
BENCH_GRPC (host:port for grpc_batch).
"""

import io
import os
import time

import numpy as np
from locust import User, task
from locust.contrib.fasthttp import FastHttpUser

SCENARIO = os.environ.get("BENCH_SCENARIO", "predict")
MODEL = os.environ.get("BENCH_MODEL", "bench")
FEATURES = int(os.environ.get("BENCH_FEATURES", "20"))
ROWS = int(os.environ.get("BENCH_ROWS", "1000"))
PIN = {"x-model-version": os.environ["BENCH_VERSION"]} if os.environ.get("BENCH_VERSION") else {}
_rng = np.random.default_rng(0)
SAMPLES = _rng.normal(size=(4096, FEATURES))
BATCH = _rng.normal(size=(ROWS, FEATURES))
_npy = io.BytesIO()
np.save(_npy, BATCH)
NPY_BODY = _npy.getvalue()
JSON_BATCH = {"model": MODEL, "instances": BATCH.tolist()}


class HttpScenario(FastHttpUser):
    """HTTP scenarios against the gateway (or the FastAPI peer, which serves the same paths)."""

    abstract = SCENARIO == "grpc_batch"

    def on_start(self):
        self.index = 0

    @task
    def send(self):
        if SCENARIO == "predict":
            self.index = (self.index + 1) % len(SAMPLES)
            body = {"model": MODEL, "features": SAMPLES[self.index].tolist()}
            self.client.post("/api/v1/predict", json=body, headers=PIN, name="predict")
        elif SCENARIO == "batch_json":
            self.client.post("/api/v1/predict/batch", json=JSON_BATCH, headers=PIN, name="batch_json")
        else:
            headers = {**PIN, "content-type": "application/x-npy"}
            self.client.post(
                f"/api/v1/predict/batch?model={MODEL}", data=NPY_BODY, headers=headers, name="batch_npy"
            )


class GrpcScenario(User):
    """PredictBatch through Serve's gRPC ingress."""

    abstract = SCENARIO != "grpc_batch"

    def on_start(self):
        import grpc.experimental.gevent as grpc_gevent

        grpc_gevent.init_gevent()
        import grpc

        from runtime.rpc import raynomaly_pb2 as pb
        from runtime.rpc import raynomaly_pb2_grpc as pb_grpc

        self.stub = pb_grpc.InferenceStub(grpc.insecure_channel(os.environ["BENCH_GRPC"]))
        self.request = pb.PredictBatchRequest(model=MODEL, values=BATCH.ravel().tolist(), n_features=FEATURES)
        self.metadata = (("application", "gateway"), *PIN.items())

    @task
    def send(self):
        started, error = time.perf_counter(), None
        try:
            self.stub.PredictBatch(self.request, metadata=self.metadata)
        except Exception as e:  # recorded as a failure by Locust
            error = e
        self.environment.events.request.fire(
            request_type="grpc", name="grpc_batch", response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=error, context={},
        )  # fmt: skip
