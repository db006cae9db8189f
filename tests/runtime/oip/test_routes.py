"""The protocol's HTTP routes (the gateway's real FastAPI app) and gRPC services, health included,
on the doubled core: keys, pins, canary routing, readiness and errors as the protocol says."""

import asyncio
import json
from collections import Counter

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2
from starlette.testclient import TestClient

from runtime.desired import Access
from runtime.rpc import open_inference_pb2 as oip
from runtime.tokens import mint
from runtime.traffic import ModelTraffic
from tests.runtime.replica import Replica, served
from tests.runtime.test_gateway_streams import ContextDouble
from tests.runtime.test_inference import ScorerDouble, gateway

SECRET = "o" * 64
KEY = {"authorization": f"Bearer {mint(SECRET, 'alice', 'client', 3600, rate=1e6)}"}
ROWS = [[1.0, 2.0], [3.0, 4.0]]
Status = health_pb2.HealthCheckResponse.ServingStatus


@pytest.fixture
def replica(tmp_path) -> Replica:
    """fraud v1 (stable, 90%) and v2 (canary, 10%), scored as row sum + version, keys required."""
    (tmp_path / "secret").write_text(SECRET)
    access = Access(secret_file=str(tmp_path / "secret"), revoked_file=str(tmp_path / "revoked"), rate=1e6)
    scorers = {1: ScorerDouble(1), 2: ScorerDouble(2)}
    inference, _, _ = gateway(scorers, ModelTraffic(weights={1: 90, 2: 10}), access=access)
    return Replica(inference)


@pytest.fixture
def client(replica):
    with served(replica) as app:
        yield TestClient(app, raise_server_exceptions=False)


def infer_body(rows=ROWS, **document) -> dict:
    return {
        "inputs": [{"name": "features", "datatype": "FP64", "shape": [len(rows), 2], "data": rows}],
        **document,
    }


def test_server_health_and_metadata_need_no_key(client, replica):
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    replica.problem = "fraud:3 cannot be loaded inline: sha256 mismatch"
    not_ready = client.get("/v2/health/ready")
    assert not_ready.status_code == 503 and "sha256 mismatch" in not_ready.json()["failed"]


def test_model_metadata_and_readiness_need_a_key_and_name_versions(client):
    assert client.get("/v2/models/fraud").status_code == 401
    document = client.get("/v2/models/fraud", headers=KEY).json()
    assert document["versions"] == ["1", "2"]
    assert document["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 2]}]
    assert client.get("/v2/models/fraud/versions/2/ready", headers=KEY).json()["version"] == "2"
    missing = client.get("/v2/models/fraud/versions/7", headers=KEY)
    assert missing.status_code == 404 and "version '7' of fraud is not deployed" in missing.json()["error"]
    assert client.get("/v2/models/nope/ready", headers=KEY).status_code == 404


def test_infer_routes_by_weight_and_pins_by_path_or_header(client):
    versions = Counter(
        client.post("/v2/models/fraud/infer", json=infer_body(), headers=KEY).json()["model_version"]
        for _ in range(300)
    )
    assert set(versions) == {"1", "2"} and 10 <= versions["2"] <= 60
    pinned = client.post("/v2/models/fraud/versions/2/infer", json=infer_body(id="p"), headers=KEY).json()
    assert (pinned["model_version"], pinned["id"]) == ("2", "p")
    assert pinned["outputs"][0] == {"name": "scores", "datatype": "FP64", "shape": [2], "data": [5.0, 9.0]}
    by_header = client.post(
        "/v2/models/fraud/infer", json=infer_body(), headers={**KEY, "x-model-version": "2"}
    )
    assert by_header.json()["model_version"] == "2"


def test_binary_infer_answers_raw_outputs(client):
    raw = np.asarray(ROWS, "<f4").tobytes()
    header = json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 2],
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()  # fmt: skip
    answer = client.post("/v2/models/fraud/versions/1/infer", content=header + raw,
                         headers={**KEY, "Inference-Header-Content-Length": str(len(header))})  # fmt: skip
    length = int(answer.headers["inference-header-content-length"])
    assert answer.headers["content-type"] == "application/octet-stream"
    assert np.frombuffer(answer.content[length : length + 16], "<f8").tolist() == [4.0, 8.0]


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        pytest.param(infer_body(), {}, 401, "missing bearer token", id="no-key"),
        pytest.param(
            {"inputs": [{"name": "features", "datatype": "FP64", "shape": [2, 2], "data": [1, 2]}]},
            KEY,
            400,
            "declares 4 values but holds 2",
            id="shape-mismatch",
        ),  # fmt: skip
        pytest.param(
            {"inputs": [{"name": "features", "datatype": "STRING", "shape": [1, 2], "data": [1, 2]}]},
            KEY,
            400,
            "datatype 'STRING' is not accepted",
            id="datatype",
        ),  # fmt: skip
        pytest.param({"inputs": []}, KEY, 400, "takes one input named 'features'", id="missing-input"),
        pytest.param(infer_body([[1.0, 2.0, 3.0]]), KEY, 400, "shape", id="feature-count"),
        pytest.param(infer_body(), {**KEY, "content-encoding": "gzip"}, 400, "Content-Encoding", id="gzip"),
    ],
)
def test_bad_requests_are_4xx_with_an_error(client, body, headers, status, message):
    answer = client.post("/v2/models/fraud/infer", json=body, headers=headers)
    assert answer.status_code == status and message in answer.json()["error"]


def test_a_feature_count_mismatch_names_the_counts(client):
    body = {"inputs": [{"name": "features", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}]}
    answer = client.post("/v2/models/fraud/infer", json=body, headers=KEY)
    assert answer.status_code == 400 and "expected 2 features per row, got 3" in answer.json()["error"]


def _call(method, request, metadata=()):
    context = ContextDouble(list(metadata))
    return asyncio.run(method(request, context)), context


def test_grpc_infer_with_raw_contents_and_a_pinned_version(replica):
    tensor = oip.ModelInferRequest.InferInputTensor(name="features", datatype="FP64", shape=[2, 2])
    raw = [np.asarray(ROWS).tobytes()]
    request = oip.ModelInferRequest(model_name="fraud", model_version="2", id="g", inputs=[tensor],
                                    raw_input_contents=raw)  # fmt: skip
    response, context = _call(replica.ModelInfer, request, KEY.items())
    assert context.code is None and (response.model_version, response.id) == ("2", "g")
    assert np.frombuffer(response.raw_output_contents[0], "<f8").tolist() == [5.0, 9.0]
    _, refused = _call(replica.ModelInfer, request)
    assert refused.code == grpc.StatusCode.UNAUTHENTICATED
    short = oip.ModelInferRequest(model_name="fraud", inputs=[tensor], raw_input_contents=[b"\0" * 8])
    _, invalid = _call(replica.ModelInfer, short, KEY.items())
    assert invalid.code == grpc.StatusCode.INVALID_ARGUMENT and "needs 32 bytes but 8" in invalid.details


def test_grpc_server_and_model_calls(replica):
    assert _call(replica.ServerLive, oip.ServerLiveRequest())[0].live
    assert _call(replica.ServerReady, oip.ServerReadyRequest())[0].ready
    assert _call(replica.ServerMetadata, oip.ServerMetadataRequest())[0].name == "raynomaly"
    asked = (("fraud", ""), ("fraud", "2"), ("fraud", "9"), ("nope", ""))
    ready = [_call(replica.ModelReady, oip.ModelReadyRequest(name=n, version=v), KEY.items())[0].ready
             for n, v in asked]  # fmt: skip
    assert ready == [True, True, False, False]
    metadata, _ = _call(replica.ModelMetadata, oip.ModelMetadataRequest(name="fraud"), KEY.items())
    assert list(metadata.versions) == ["1", "2"] and list(metadata.inputs[0].shape) == [-1, 2]
    _, unknown = _call(replica.ModelMetadata, oip.ModelMetadataRequest(name="nope"), KEY.items())
    assert unknown.code == grpc.StatusCode.NOT_FOUND


def test_health_answers_for_the_gateway_and_each_model(replica):
    def check(service: str):
        return _call(replica.Check, health_pb2.HealthCheckRequest(service=service))

    assert [check(s)[0].status for s in ("", "inference.GRPCInferenceService", "fraud")] == [
        Status.SERVING
    ] * 3
    _, unknown = check("nope")
    assert unknown.code == grpc.StatusCode.NOT_FOUND
    replica.problem = "a version failed"
    assert check("")[0].status == Status.NOT_SERVING

    async def first_watch():
        watch = replica.Watch(health_pb2.HealthCheckRequest(service="nope"), ContextDouble())
        first = await anext(watch)
        await watch.aclose()
        return first.status

    assert asyncio.run(first_watch()) == Status.SERVICE_UNKNOWN
