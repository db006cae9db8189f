"""Request ids through the gateway's in-process app and gRPC methods: taken or made up, echoed on
every answer (HTTP through Serve's own request-id middleware, as Serve runs the gateway), errors
too, on the WebSocket handshake and as gRPC trailing metadata; failed answers logged as JSON lines
naming the id, the model and the status."""

import asyncio
import io
import json
import logging

import pytest
from ray.serve._private.http_util import RequestIdMiddleware
from starlette.testclient import TestClient

from runtime import logs, request_ids
from runtime.rpc import raynomaly_pb2 as pb
from tests.runtime.replica import Replica, served, serving
from tests.runtime.test_gateway_streams import ContextDouble


@pytest.fixture
def logged():
    """The JSON lines the gateway logs while a test runs."""
    stream = io.StringIO()
    logger, handler = logging.getLogger(logs.GATEWAY), logs.handler(stream)
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def replica() -> Replica:
    return Replica(serving()[0])


def behind_serve(app) -> TestClient:
    """The gateway's app as Serve's HTTP server runs it, behind Serve's request-id middleware (which
    answers HTTP and WebSocket scopes only: used without `with`, the client sends no lifespan)."""
    return TestClient(RequestIdMiddleware(app))


CALLS = [
    pytest.param("post", "/api/v1/predict", {"model": "fraud", "features": [1, 2]}, 200, id="predict"),
    pytest.param("post", "/api/v1/predict", {"model": "nope", "features": [1, 2]}, 404, id="unknown-model"),
    pytest.param("post", "/api/v1/predict/batch", {"model": "fraud", "instances": [[1]]}, 400, id="bad-rows"),
    pytest.param("get", "/v2/models/fraud", None, 200, id="oip-metadata"),
    pytest.param("post", "/v2/models/fraud/infer", {"inputs": []}, 400, id="oip-error"),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), CALLS)
def test_a_callers_id_is_echoed_on_every_http_answer(replica, method, path, body, status):
    with served(replica) as app:
        client = behind_serve(app)
        answer = client.request(method, path, json=body, headers={"x-request-id": "caller-7"})
    assert answer.status_code == status
    assert answer.headers.get_list("x-request-id") == ["caller-7"]


@pytest.mark.parametrize(("method", "path", "body", "status"), CALLS)
def test_without_serve_in_front_the_gateway_makes_up_and_echoes_an_id(replica, method, path, body, status):
    with served(replica) as app, TestClient(app) as client:
        answer = client.request(method, path, json=body)
    assert answer.status_code == status
    [echoed] = answer.headers.get_list("x-request-id")
    assert len(echoed) == 32 and int(echoed, 16) >= 0


def test_a_failed_answer_is_one_json_line_with_the_id_model_and_status(replica, logged):
    with served(replica) as app:
        client = behind_serve(app)
        client.post(
            "/api/v1/predict", json={"model": "fraud", "features": [1, 2]}, headers={"x-request-id": "ok-1"}
        )
        client.post(
            "/api/v1/predict", json={"model": "nope", "features": [1]}, headers={"x-request-id": "bad-1"}
        )
    [line] = logged()  # the answered request is not logged
    assert line["request_id"] == "bad-1" and line["status"] == 404 and line["model"] == "nope"
    assert line["level"] == "WARNING" and line["path"] == "/api/v1/predict" and line["latency_ms"] >= 0


def test_a_scoring_failure_names_the_version_that_failed(logged):
    inference, _ = serving()
    scorer = inference.scorer("fraud", 1)

    async def broken(matrix, role):
        raise RuntimeError("scorer crashed")

    scorer.score = broken
    with served(Replica(inference)) as app:
        client = TestClient(RequestIdMiddleware(app), raise_server_exceptions=False)
        answer = client.post("/api/v1/predict", json={"model": "fraud", "features": [1, 2]})
    [line] = logged()
    assert answer.status_code == 500 and line["request_id"] == answer.headers["x-request-id"]
    assert (line["model"], line["version"], line["status"], line["level"]) == ("fraud", 1, 500, "ERROR")
    assert line["error_type"] == "RuntimeError" and "scorer crashed" in line["traceback"]


def test_the_websocket_handshake_carries_the_id(replica):
    with (
        served(replica) as app,
        behind_serve(app).websocket_connect(
            "/api/v1/predict/streaming?model=fraud", headers={"x-request-id": "ws-1"}
        ) as ws,
    ):
        ws.send_text(json.dumps({"features": [1, 2]}))
        assert ws.receive_json()["version"] == 1
        assert (b"x-request-id", b"ws-1") in ws.extra_headers


@pytest.mark.parametrize(
    ("metadata", "serves", "expected"),
    [
        pytest.param([("x-request-id", "grpc-7")], [("request_id", "serve-1")], "grpc-7", id="callers-own"),
        pytest.param([], [("request_id", "serve-1")], "serve-1", id="serves-id"),
        pytest.param([], [], None, id="made-up"),
    ],
)
def test_every_grpc_call_answers_its_id_as_trailing_metadata(replica, metadata, serves, expected):
    scored, failed = ContextDouble(metadata), ContextDouble(metadata)
    for context in (scored, failed):
        context.trailing = list(serves)  # Serve sets its own request id before the call
    asyncio.run(replica.Predict(pb.PredictRequest(model="fraud", features=[1, 2]), scored))
    asyncio.run(replica.Predict(pb.PredictRequest(model="nope", features=[1]), failed))
    assert scored.code is None and failed.code is not None
    for answered in (scored, failed):
        found = dict(answered.trailing)["x-request-id"]
        assert found == expected if expected else len(found) == 32


def test_a_callers_unusable_id_is_replaced():
    assert request_ids.usable("a" * 129) is None and request_ids.usable("tab\there") is None
    assert request_ids.usable("trace-12_ab.C") == "trace-12_ab.C"
