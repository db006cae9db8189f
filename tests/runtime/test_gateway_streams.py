"""The gateway's streaming adapters on the doubled core: a gRPC stream holds its total rows and
bytes to the limits; a WebSocket answers each bad message and stays open."""

import asyncio
import contextlib

import grpc
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from runtime.gateway import stream_chunks, stream_messages
from runtime.rpc import raynomaly_pb2 as pb
from runtime.traffic import ModelTraffic
from tests.runtime.test_inference import ScorerDouble, gateway


class ContextDouble:
    """A gRPC servicer context: the code, details and trailing metadata an answer set."""

    def __init__(self, metadata: list[tuple[str, str]] | None = None):
        self.code, self.details, self.metadata, self.trailing = None, None, metadata or [], []

    def set_trailing_metadata(self, trailing):
        self.trailing = list(trailing)

    def trailing_metadata(self):
        return self.trailing

    def set_code(self, code):
        self.code = code

    def set_details(self, details):
        self.details = details

    def invocation_metadata(self):
        return self.metadata


async def _collect(inference, request, context):
    return [chunk async for chunk in stream_chunks(inference, request, None, None, context)]


@pytest.mark.parametrize(
    ("rows", "limits", "message"),
    [
        pytest.param(30, {"max_rows": 20}, "30 rows is over the limit of 20", id="total-rows"),
        pytest.param(100, {"max_body_bytes": 1024}, "over the limit of 1,024", id="message-bytes"),
    ],
)
def test_a_grpc_stream_is_held_to_the_limits_as_a_whole(rows, limits, message):
    inference, metrics, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), **limits)
    request = pb.PredictBatchRequest(model="fraud", values=[1.0] * 2 * rows, n_features=2, chunk_rows=10)
    context = ContextDouble()
    assert asyncio.run(_collect(inference, request, context)) == []
    assert context.code == grpc.StatusCode.RESOURCE_EXHAUSTED and message in context.details


def test_a_websocket_answers_each_bad_message_and_stays_open():
    inference, _, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}))

    async def endpoint(websocket):
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):  # the client closes at the end
            await stream_messages(websocket, inference, "fraud", inference.route("fraud", None, None))

    client = TestClient(Starlette(routes=[WebSocketRoute("/", endpoint)]))
    with client.websocket_connect("/") as socket:
        socket.send_bytes(b"\x00\x01")
        assert "JSON text frame" in socket.receive_json()["error"]
        socket.send_text("{")
        assert socket.receive_json()["status"] == 400
        socket.send_text('{"features": [' + "9" * 5000 + ", 1]}")
        assert socket.receive_json()["status"] == 400
        socket.send_text('{"features": [1.0, 2.0]}')
        assert socket.receive_json()["scores"] == [4.0]


def test_every_module_function_the_gateway_class_uses_is_defined_before_it():
    """`serve.ingress` pickles the class with the module's globals as they are when it is decorated:
    a function defined after the class is missing in a replica (NameError on the first request)."""
    import ast
    from pathlib import Path

    import runtime.gateway

    tree = ast.parse(Path(runtime.gateway.__file__).read_text())
    gateway = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Gateway")
    defined_after = {
        n.name
        for n in tree.body[tree.body.index(gateway) + 1 :]
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    used = {n.id for n in ast.walk(gateway) if isinstance(n, ast.Name)}
    assert used & defined_after == set()
