"""TLS 1.3 in front of a real Ray Serve (the session's runtime runs `up --tls self-signed`):
handshakes with the generated CA succeed over HTTPS, WebSocket and gRPC, and fail without it or
below TLS 1.3; the control API answers over HTTPS too."""

import asyncio
import json
import ssl

import grpc
import httpx
import pytest
import websockets

from controller.settings import ControllerSettings
from runtime.rpc import raynomaly_pb2 as pb
from runtime.rpc import raynomaly_pb2_grpc as pb_grpc
from tests.runtime.test_serving_live import GATEWAY, ROW

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca(served) -> ssl.SSLContext:
    """A client context that trusts the runtime's local CA (and nothing else)."""
    return ssl.create_default_context(cafile=str(served.settings.tls_dir / "ca.pem"))


def test_https_answers_with_the_local_ca_and_only_with_it(served, ca):
    body = {"model": "churn", "features": ROW}
    answer = httpx.post(f"{served.https}/api/v1/predict", json=body, headers=served.headers, verify=ca)
    assert answer.status_code == 200 and answer.json()["model"] == "churn"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.post(f"{served.https}/api/v1/predict", json=body, headers=served.headers)
    old = ssl.create_default_context(cafile=str(served.settings.tls_dir / "ca.pem"))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{served.https}/api/v1/predict", json=body, headers=served.headers, verify=old)
    assert httpx.post(f"{served.https}/api/v1/predict", json=body, verify=ca).status_code == 401


def test_websocket_streams_over_tls(served, ca):
    async def converse():
        url = f"wss://{served.https.removeprefix('https://')}/api/v1/predict/streaming?model=churn"
        async with websockets.connect(url, ssl=ca, additional_headers=served.headers) as ws:
            await ws.send(json.dumps({"features": ROW}))
            return json.loads(await ws.recv())

    assert len(asyncio.run(converse())["scores"]) == 1


def test_grpc_over_tls_with_the_ca_and_not_without(served, ca):
    metadata = (*GATEWAY, ("authorization", f"Bearer {served.key}"))
    request = pb.PredictRequest(model="churn", features=ROW)
    with open(served.settings.tls_dir / "ca.pem", "rb") as f:
        trusted = grpc.ssl_channel_credentials(root_certificates=f.read())
    answer = pb_grpc.InferenceStub(grpc.secure_channel(served.grpcs, trusted)).Predict(
        request, metadata=metadata, timeout=30
    )
    assert answer.model == "churn" and len(answer.scores) == 1
    with pytest.raises(grpc.RpcError) as refused:
        pb_grpc.InferenceStub(grpc.secure_channel(served.grpcs, grpc.ssl_channel_credentials())).Predict(
            request, metadata=metadata, timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_control_api_answers_over_https_to_the_cli(served, ca):
    settings = ControllerSettings.resolve(served.environ)
    assert settings.url.startswith("https://") and settings.client_ca() is not None
    assert httpx.get(f"{settings.url}/health", verify=ca).status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{settings.url}/health")
    history = served.cli("rollout", "history", "churn", "--json")  # the CLI verifies with the local CA
    assert json.loads(history.stdout) is not None
