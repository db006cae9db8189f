"""The Open Inference Protocol against the live runtime, through the real clients, unmodified:
tritonclient's HTTP and gRPC clients and KServe's REST client (tests/clients), binary and JSON,
FP32 and FP64, pins, canary routing, errors; gRPC health and reflection; and over TLS."""

import grpc
import httpx
import numpy as np
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.clients import drive

pytestmark = pytest.mark.integration
ROWS = (np.arange(24, dtype=np.float64).reshape(3, 8) * 10).tolist()


def infer(**call) -> dict:
    return {"call": "infer", "model": "fraud", "rows": ROWS, **call}


def _keyed(served) -> dict:
    return {"authorization": f"Bearer {served.key}"}


@pytest.mark.parametrize(("client", "address"), [("triton-http", "http"), ("triton-grpc", "grpc")])
def test_tritonclient_scores_as_the_own_api_does(served, client, address):
    served.cli("traffic", "set", "fraud", "1=100", "2=0")
    url = served.http.removeprefix("http://") if address == "http" else served.grpc
    own = httpx.post(f"{served.http}/api/v1/predict/batch", json={"model": "fraud", "instances": ROWS},
                     headers={**served.headers, "x-model-version": "2"}).json()  # fmt: skip
    results = drive(client, url, [
        {"call": "live"}, {"call": "ready"}, {"call": "model_ready", "model": "fraud"},
        {"call": "server_metadata"}, {"call": "model_metadata", "model": "fraud"},
        infer(id="r-1"), infer(datatype="FP32"), infer(binary=False, binary_output=False, version="2"),
        infer(outputs=["labels"]),
    ], headers=_keyed(served))  # fmt: skip
    assert [r.get("value") for r in results[:3]] == [True, True, True], results
    assert "binary_tensor_data" in results[3]["value"]["extensions"]
    metadata = results[4]["value"]
    assert metadata["versions"] == ["1", "2"] and metadata["inputs"][0]["name"] == "features"
    assert [int(d) for d in metadata["inputs"][0]["shape"]] == [-1, 8]
    fp64, fp32, pinned, labels = (r["value"] for r in results[5:])
    assert (fp64["model_version"], fp64["id"]) == ("1", "r-1") and fp32["model_version"] == "1"
    assert np.allclose(fp64["outputs"]["scores"], fp32["outputs"]["scores"], rtol=1e-5)
    assert pinned["model_version"] == "2" and pinned["datatypes"] == {"scores": "FP64", "labels": "INT64"}
    assert (
        np.allclose(pinned["outputs"]["scores"], own["scores"])
        and pinned["outputs"]["labels"] == own["labels"]
    )
    assert list(labels["outputs"]) == ["labels"]


@pytest.mark.parametrize(
    ("call", "http", "grpc_code", "message"),
    [
        pytest.param(infer(datatype="BOOL"), 400, "INVALID_ARGUMENT", "not accepted", id="datatype"),
        pytest.param(infer(shape=[4, 8]), 400, "INVALID_ARGUMENT", "needs 256 bytes but 192", id="shape-lie"),
        pytest.param(
            infer(input="x"), 400, "INVALID_ARGUMENT", "one input named 'features'", id="input-name"
        ),
        pytest.param(infer(rows=[[1.0, 2.0]]), 400, "INVALID_ARGUMENT", "expected 8 features", id="features"),
        pytest.param(infer(model="nope"), 404, "NOT_FOUND", "'nope' is not served", id="model"),
        pytest.param(infer(version="9"), 404, "NOT_FOUND", "version '9' of fraud", id="version"),
    ],
)
def test_bad_input_through_the_clients_is_a_4xx_with_a_message(served, call, http, grpc_code, message):
    for client, url, status in (("triton-http", served.http.removeprefix("http://"), http),
                                ("triton-grpc", served.grpc, grpc_code)):  # fmt: skip
        (result,) = drive(client, url, [call], headers=_keyed(served))
        assert result.get("status") == status and message in result["error"], (client, result)


def test_without_a_key_models_are_refused(served):
    (http,) = drive("triton-http", served.http.removeprefix("http://"), [infer()])
    (rpc,) = drive("triton-grpc", served.grpc, [infer()])
    assert (http["status"], rpc["status"]) == (401, "UNAUTHENTICATED")


def test_kserve_rest_client_in_v2(served):
    served.cli("traffic", "set", "fraud", "1=100", "2=0")
    results = drive("kserve-rest", served.http, [
        {"call": "live"}, {"call": "ready"}, {"call": "model_ready", "model": "fraud"},
        infer(), infer(binary=False, datatype="FP32"), infer(model="nope"),
    ], headers=_keyed(served))  # fmt: skip
    assert [r.get("value") for r in results[:3]] == [True, True, True], results
    binary, json_ = results[3]["value"], results[4]["value"]
    assert len(binary["outputs"]["scores"]) == 3 and np.allclose(
        binary["outputs"]["scores"], json_["outputs"]["scores"]
    )
    assert results[5]["status"] == 404 and "'nope' is not served" in results[5]["error"]


def test_a_canary_at_90_10_is_seen_through_oip_as_through_the_own_api(served):
    served.cli("traffic", "set", "fraud", "1=90", "2=10")
    try:
        results = drive(
            "triton-http", served.http.removeprefix("http://"), [infer()] * 300, headers=_keyed(served)
        )
        through_oip = sum(r["value"]["model_version"] == "2" for r in results)
        body = {"model": "fraud", "features": ROWS[0]}
        with httpx.Client(headers=served.headers) as client:
            own = sum(
                client.post(f"{served.http}/api/v1/predict", json=body).json()["version"] == 2
                for _ in range(300)
            )
    finally:
        served.cli("traffic", "set", "fraud", "1=100", "2=0")
    assert 10 <= through_oip <= 55 and 10 <= own <= 55, (through_oip, own)  # 30 expected of 300 each


def test_grpc_health_per_service_and_model_and_reflection(served):
    with grpc.insecure_channel(served.grpc) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        statuses = [health.Check(health_pb2.HealthCheckRequest(service=s), timeout=10).status
                    for s in ("", "inference.GRPCInferenceService", "fraud")]  # fmt: skip
        assert statuses == [health_pb2.HealthCheckResponse.SERVING] * 3
        with pytest.raises(grpc.RpcError) as unknown:
            health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        methods = [
            m.name
            for m in DescriptorPool(database).FindServiceByName("inference.GRPCInferenceService").methods
        ]
    assert {"inference.GRPCInferenceService", "raynomaly.v1.Inference", "grpc.health.v1.Health"} <= services
    assert "ModelInfer" in methods and "ServerLive" in methods


def test_the_clients_over_tls(served):
    served.cli("traffic", "set", "fraud", "1=100", "2=0")
    ca = str(served.settings.tls_dir / "ca.pem")
    (http,) = drive(
        "triton-http", served.https.removeprefix("https://"), [infer()], headers=_keyed(served), ca=ca
    )
    (rpc,) = drive("triton-grpc", served.grpcs, [infer()], headers=_keyed(served), ca=ca)
    assert http["value"]["model_version"] == rpc["value"]["model_version"] == "1"
    assert np.allclose(http["value"]["outputs"]["scores"], rpc["value"]["outputs"]["scores"])
