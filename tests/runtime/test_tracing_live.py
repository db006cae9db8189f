"""Tracing and request ids on the session's runtime (`up --tracing-sample 0.001`; Serve's sampler
is parent-based, so a caller's sampled `traceparent` is always followed; spans go to Serve's span
files): one request with a `traceparent` yields the gateway's spans and Serve's replica span in
that trace, the caller's `x-request-id` comes back once on HTTP and as gRPC trailing metadata."""

import json
import secrets
import time
from pathlib import Path

import grpc
import httpx
import pytest

from runtime.rpc import raynomaly_pb2 as pb
from runtime.rpc import raynomaly_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration
SPAN_FILES = "/tmp/ray/session_*/logs/serve/spans/*_tracing.json"
"""Serve's default exporter writes one file per process (Ray's default temp folder, as `up` uses)."""


def spans_of(trace_id: str, timeout_s: float = 30.0) -> list[dict]:
    """Every span of the trace in Serve's span files (JSON objects, one after another, as
    OpenTelemetry's console exporter writes them), once the gateway's score span is there."""
    wanted, decoder = f"0x{trace_id}", json.JSONDecoder()
    deadline = time.monotonic() + timeout_s
    while True:
        found = []
        for path in Path("/").glob(SPAN_FILES.lstrip("/")):
            text, at = path.read_text(), 0
            while (at := text.find("{", at)) != -1:
                try:
                    span, at = decoder.raw_decode(text, at)
                except json.JSONDecodeError:
                    break  # a span half written: read again on the next pass
                if span.get("context", {}).get("trace_id") == wanted:
                    found.append({**span, "file": path.name})
        if any(s["name"] == "score" for s in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_a_traceparent_yields_the_gateways_spans_in_that_trace(served):
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    headers = {**served.headers, "traceparent": f"00-{trace_id}-{parent}-01", "x-request-id": "live-trace-1"}
    answer = httpx.post(f"{served.http}/api/v1/predict", json={"model": "churn", "features": [0.1] * 8},
                        headers=headers, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers.get_list("x-request-id") == ["live-trace-1"]
    found = spans_of(trace_id)
    names = {s["name"] for s in found}
    assert {"parse", "route", "score"} <= names, names
    assert any(name.startswith("replica_handle_request") for name in names), names
    score = next(s for s in found if s["name"] == "score")
    assert score["attributes"]["model"] == "churn" and score["attributes"]["request_id"] == "live-trace-1"
    assert score["file"].startswith("SERVE_REPLICA")
    replica = next(s for s in found if s["name"].startswith("replica_handle_request"))
    assert score["parent_id"] == replica["context"]["span_id"]


def test_errors_and_the_grpc_trailing_metadata_carry_the_request_id(served):
    refused = httpx.post(f"{served.http}/api/v1/predict", json={"model": "nope", "features": [1]},
                         headers={**served.headers, "x-request-id": "live-404"}, timeout=30)  # fmt: skip
    assert refused.status_code == 404 and refused.headers.get_list("x-request-id") == ["live-404"]
    made_up = httpx.get(f"{served.http}/v2/models/nope", headers=served.headers, timeout=30)
    assert made_up.status_code == 404 and len(made_up.headers.get_list("x-request-id")) == 1
    stub = pb_grpc.InferenceStub(grpc.insecure_channel(served.grpc))
    metadata = (("authorization", f"Bearer {served.key}"), ("x-request-id", "live-grpc-1"))
    _, call = stub.Predict.with_call(pb.PredictRequest(model="churn", features=[0.1] * 8), metadata=metadata)
    assert ("x-request-id", "live-grpc-1") in call.trailing_metadata()
