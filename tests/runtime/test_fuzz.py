"""Generated hostile bodies thrown at the gateway's real handlers on the doubled core (no Ray): every
body is answered, a caller's mistake is a 4xx with a message and never a version's server error,
and a body costs memory in proportion to its size, or is refused before it is decoded."""

import asyncio
import contextlib
import io
import json
import tracemalloc

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from models.errors import InvalidInput
from runtime.bodies import read_arrow, read_body
from runtime.codec import ARROW, NPY, Rows, parse_json
from runtime.errors import BadRequest, ServingError, TooLarge
from runtime.gateway import batch_rows, stream_chunks, stream_messages
from runtime.rpc import raynomaly_pb2 as pb
from tests.runtime.hostile import arrow_bodies, json_values, npy_bodies, raw_json, rows
from tests.runtime.replica import LIMITS, Replica, served, serving
from tests.runtime.test_gateway_streams import ContextDouble

FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def http():
    """A client of the gateway's app on the doubled core, and the core's metrics."""
    inference, metrics = serving()
    with served(Replica(inference)) as app:
        yield TestClient(app, raise_server_exceptions=False), metrics


def _assert_answered(response, metrics) -> None:
    """200, or a 4xx whose body names the problem; the version never counts a server error."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"] and response.json()["status"] == response.status_code
    assert all(outcome != "server_error" for *_, outcome in metrics.records)


def _dumps(value) -> bytes:
    """JSON text of any value, with what orjson never writes: integers past 64 bits, NaN, Infinity."""
    return json.dumps(value).encode()


def _post(http, path: str, body: bytes, content_type: str = "application/json", query: str = ""):
    client, metrics = http
    response = client.post(f"{path}{query}", content=body, headers={"content-type": content_type})
    _assert_answered(response, metrics)
    return response


# JSON: arbitrary values where the rows go, and raw texts that stress the parser


@FUZZ
@given(
    features=json_values, model=st.sampled_from(["fraud", "", "churn"]) | st.text(max_size=5) | json_values
)
@example(features=[1.0, 2.0], model="fraud")
@example(features={"a": 1, "b": True}, model="fraud")
def test_json_predict_bodies_are_answered(http, features, model):
    _post(http, "/api/v1/predict", _dumps({"model": model, "features": features}))


@FUZZ
@given(instances=rows | json_values)
def test_json_batch_bodies_are_answered(http, instances):
    _post(http, "/api/v1/predict/batch", _dumps({"model": "fraud", "instances": instances}))


@FUZZ
@given(body=raw_json, path=st.sampled_from(["/api/v1/predict", "/api/v1/predict/batch"]))
@example(body=b'{"model": "fraud", "features": ' + b"[" * 256 + b"]" * 256 + b"}", path="/api/v1/predict")
def test_raw_json_texts_are_answered(http, body, path):
    _post(http, path, body)


# Arrow IPC: random schemas, dtypes, compression; then cut or corrupted


@FUZZ
@given(body=arrow_bodies())
def test_arrow_streams_are_answered(http, body):
    _post(http, "/api/v1/predict/batch", body, ARROW, "?model=fraud")


def _bomb(rows: int, columns: int = 2) -> bytes:
    """A zstd-compressed stream of one batch of zeros: kilobytes that unpack to 8 x rows x columns
    bytes (many columns keep the writer's own buffers small: it compresses one at a time)."""
    table = pa.table({f"c{j}": np.zeros(rows) for j in range(columns)})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_a_compressed_stream_that_would_unpack_past_the_limits_is_refused_before_unpacking():
    body = _bomb(1_000_000, columns=64)  # 512 MB once decoded, about 1 MB of it allocated to write
    allocated = pa.default_memory_pool().max_memory()  # Arrow allocates outside tracemalloc's view
    with pytest.raises(TooLarge, match="decoded Arrow data of 512,000,000 bytes is over the limit"):
        read_arrow(body, 10**9, 8 * 2**20)
    assert pa.default_memory_pool().max_memory() < allocated + 64 * 2**20  # refused, not unpacked


def test_a_stream_over_the_row_limit_is_refused():
    with pytest.raises(TooLarge, match="over 100,000 rows"):
        read_arrow(_bomb(200_000), 100_000, 2**30)


# .npy: random dtypes and shapes, headers that lie about them, bodies cut short


@FUZZ
@given(body=npy_bodies())
@example(body=b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}")
@example(body=b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'{  \n")  # an unclosed brace: tokenize.TokenError
@example(
    body=b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (), }"
    + b" " * 62
    + b"\n"
    + bytes(8)
)
@example(body=b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f8', 'shape': " + b"(" * 200 + b"\n")
def test_npy_bodies_are_answered(http, body):
    _post(http, "/api/v1/predict/batch", body, NPY, "?model=fraud")


# WebSocket: text and binary frames, random JSON


@settings(FUZZ, max_examples=40)
@given(
    messages=st.lists(
        json_values.map(json.dumps)
        | st.text(max_size=20)
        | st.binary(max_size=20)
        | st.builds(lambda v: json.dumps({"instances": v}), rows),
        min_size=1,
        max_size=5,
    )
)
def test_websocket_messages_are_each_answered_and_the_socket_stays_open(messages):
    inference, metrics = serving()

    async def endpoint(websocket):
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):  # the client closes at the end
            await stream_messages(websocket, inference, "fraud", inference.route("fraud", None, None))

    client = TestClient(Starlette(routes=[WebSocketRoute("/", endpoint)]))
    with client.websocket_connect("/") as socket:
        for message in [*messages, '{"features": [1.0, 2.0]}']:
            socket.send_bytes(message) if isinstance(message, bytes) else socket.send_text(message)
            answer = socket.receive_json()
            assert "scores" in answer or (answer["error"] and 400 <= answer["status"] < 500), answer
    assert answer["scores"] == [4.0]  # still open after every bad message
    assert all(outcome != "server_error" for *_, outcome in metrics.records)


# gRPC: Predict, PredictBatch, PredictStream with random values and n_features

floats = st.floats(width=64)


@FUZZ
@given(values=st.lists(floats, max_size=120), n_features=st.integers(0, 2**32 - 1), chunk=st.integers(0, 7))
@example(values=[1.0] * 4, n_features=2, chunk=1)
def test_grpc_requests_are_answered_with_a_client_code(values, n_features, chunk):
    inference, metrics = serving()
    replica, batch = (
        Replica(inference),
        pb.PredictBatchRequest(model="fraud", values=values, n_features=n_features, chunk_rows=chunk),
    )

    async def calls():
        answers = []
        for call, request in [
            (replica.Predict, pb.PredictRequest(model="fraud", features=values)),
            (replica.PredictBatch, batch),
        ]:
            context = ContextDouble()
            answers.append((await call(request, context), context))
        context = ContextDouble()
        answers.append(
            ([chunk async for chunk in stream_chunks(inference, batch, None, None, context)], context)
        )
        return answers

    for _, context in asyncio.run(calls()):
        assert context.code is None or (
            context.code.name in {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"} and context.details
        )
    assert all(outcome != "server_error" for *_, outcome in metrics.records)


# Memory: a body under the limits costs a few times its size; one over them is never read


def _peak(handle) -> int:
    tracemalloc.start()
    try:
        with contextlib.suppress(ServingError, InvalidInput):
            handle()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@settings(FUZZ, max_examples=60)
@given(
    instances=st.lists(
        st.lists(st.floats(-1e6, 1e6) | st.integers(-9, 9), min_size=2, max_size=2), max_size=2000
    )
)
def test_json_rows_cost_memory_in_proportion_to_the_body(instances):
    body = _dumps({"model": "fraud", "instances": instances})
    # a Python float per JSON number ("0," is 2 bytes, its object and list slot 32): the bound is the parser's
    peak = _peak(lambda: Rows.from_instances(parse_json(body)["instances"]).matrix(["a", "b"]))
    assert peak <= 48 * len(body) + 64 * 1024


@settings(FUZZ, max_examples=60)
@given(body=npy_bodies())
def test_npy_bodies_cost_memory_in_proportion_to_the_body(body):
    peak = _peak(lambda: Rows.from_binary(body, NPY, 50, 64 * 1024).matrix(["a", "b"]))
    assert peak <= 8 * len(body) + 64 * 1024  # int8 to float64 is the widest step: 8x


@pytest.mark.parametrize("declared", ["70000", None], ids=["declared-length", "chunked"])
def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(declared):
    received = []

    async def chunks():
        for _ in range(1000):
            received.append(1)
            yield b"x" * 1024

    with pytest.raises(TooLarge, match="over the limit of 65,536"):
        asyncio.run(read_body(chunks(), declared, 64 * 1024))
    assert len(received) <= 65  # refused at the first chunk past the limit, or before any


@FUZZ
@given(values=st.lists(floats, max_size=60), n_features=st.integers(1, 3))
def test_batch_rows_refuse_what_does_not_split_into_rows(values, n_features):
    inference, _ = serving()
    request = pb.PredictBatchRequest(model="fraud", values=values, n_features=n_features)
    try:
        matrix = batch_rows(inference, request)
    except (BadRequest, TooLarge):
        assert len(values) % n_features or len(values) // n_features > LIMITS["max_rows"]
    else:
        assert matrix.shape == (len(values) // n_features, n_features)
