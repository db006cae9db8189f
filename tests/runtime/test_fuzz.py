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
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import runtime.gateway
from models.errors import InvalidInput
from runtime.bodies import read_arrow, read_body
from runtime.codec import ARROW, NPY, Rows, parse_json
from runtime.errors import BadRequest, ServingError, TooLarge
from runtime.gateway import batch_rows, stream_chunks, stream_messages
from runtime.rpc import raynomaly_pb2 as pb
from runtime.traffic import ModelTraffic
from tests.runtime.test_gateway_streams import ContextDouble
from tests.runtime.test_inference import ScorerDouble, gateway

FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
LIMITS = {"max_rows": 50, "max_body_bytes": 64 * 1024}
Gateway = runtime.gateway.Gateway.func_or_class  # the class serve.ingress wraps


class Replica:
    """The gateway's own handlers, bound to a doubled core instead of a Serve replica."""

    _body, _sticky, _grpc, _metadata = Gateway._body, Gateway._sticky, Gateway._grpc, Gateway._metadata
    predict, predict_batch, Predict, PredictBatch = (
        Gateway.predict,
        Gateway.predict_batch,
        Gateway.Predict,
        Gateway.PredictBatch,
    )

    def __init__(self, inference):
        self.inference = inference


def _serving():
    inference, metrics, _ = gateway({1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), **LIMITS)
    return inference, metrics


def _http():
    inference, metrics = _serving()
    replica = Replica(inference)
    answer = {
        kind: (lambda request, error: runtime.gateway._error(error)) for kind in (ServingError, InvalidInput)
    }
    routes = [
        Route("/api/v1/predict", replica.predict, methods=["POST"]),
        Route("/api/v1/predict/batch", replica.predict_batch, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers=answer)
    return TestClient(app, raise_server_exceptions=False), metrics


HTTP, HTTP_METRICS = _http()


def _assert_answered(response) -> None:
    """200, or a 4xx whose body names the problem; the version never counts a server error."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"] and response.json()["status"] == response.status_code
    assert all(outcome != "server_error" for *_, outcome in HTTP_METRICS.records)


def _dumps(value) -> bytes:
    """JSON text of any value, with what orjson never writes: integers past 64 bits, NaN, Infinity."""
    return json.dumps(value).encode()


def _post(path: str, body: bytes, content_type: str = "application/json", query: str = ""):
    response = HTTP.post(f"{path}{query}", content=body, headers={"content-type": content_type})
    _assert_answered(response)
    return response


# JSON: arbitrary values where the rows go, and raw texts that stress the parser

numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False), st.floats())
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=20,
)
rows = st.lists(st.lists(numbers | json_values, max_size=4), max_size=6)
raw_json = st.one_of(
    st.integers(1, 3000).map(
        lambda depth: b'{"model": "fraud", "features": ' + b"[" * depth + b"]" * depth + b"}"
    ),
    st.integers(1, 5000).map(lambda digits: b'{"model": "fraud", "features": [' + b"9" * digits + b", 1]}"),
    st.sampled_from(
        [
            b'{"model": "fraud", "model": "fraud", "features": [1, 2]}',
            b'{"model": "fraud", "features": {"a": 1, "a": 2, "b": 3}}',
            b'{"model": "fraud", "features": [NaN, Infinity]}',
            b'{"model": "fraud", "instances": [[1e999, 1]]}',
            b'{"model": "fraud", "features": {"a": {"a": 1}, "b": 1}}',
            b"\xff\xfe",
            b"",
            b"null",
        ]
    ),
    st.binary(max_size=64),
)


@FUZZ
@given(
    features=json_values, model=st.sampled_from(["fraud", "", "churn"]) | st.text(max_size=5) | json_values
)
@example(features=[1.0, 2.0], model="fraud")
@example(features={"a": 1, "b": True}, model="fraud")
def test_json_predict_bodies_are_answered(features, model):
    _post("/api/v1/predict", _dumps({"model": model, "features": features}))


@FUZZ
@given(instances=rows | json_values)
def test_json_batch_bodies_are_answered(instances):
    _post("/api/v1/predict/batch", _dumps({"model": "fraud", "instances": instances}))


@FUZZ
@given(body=raw_json, path=st.sampled_from(["/api/v1/predict", "/api/v1/predict/batch"]))
@example(body=b'{"model": "fraud", "features": ' + b"[" * 256 + b"]" * 256 + b"}", path="/api/v1/predict")
def test_raw_json_texts_are_answered(body, path):
    _post(path, body)


# Arrow IPC: random schemas, dtypes, compression; then cut or corrupted

ARROW_TYPES = [
    pa.int8(),
    pa.uint64(),
    pa.int64(),
    pa.float16(),
    pa.float32(),
    pa.float64(),
    pa.bool_(),
    pa.string(),
    pa.decimal128(10, 2),
    pa.date32(),
    pa.null(),
    pa.dictionary(pa.int8(), pa.string()),
]


@st.composite
def arrow_bodies(draw) -> bytes:
    names = draw(st.lists(st.sampled_from(["a", "b", "0", "1", "column_0", "column_1", "x"]), max_size=4))
    n = draw(st.integers(0, 8))
    columns = []
    for _ in names:
        kind = draw(st.sampled_from(ARROW_TYPES))
        values = pa.array(draw(st.lists(st.integers(-3, 3) | st.none(), min_size=n, max_size=n)))
        columns.append(_column(values, kind))
    table = pa.Table.from_arrays(columns, names=names) if names else pa.table({})
    options = pa.ipc.IpcWriteOptions(compression=draw(st.sampled_from([None, "lz4", "zstd"])))
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=draw(st.integers(1, 8)))
    return _damage(draw, sink.getvalue())


def _column(values: pa.Array, kind: pa.DataType) -> pa.Array:
    """Small integers as a column of `kind`."""
    if kind == pa.null():
        return pa.nulls(len(values))
    if pa.types.is_date(kind):
        return values.cast(pa.int32()).cast(kind)
    if pa.types.is_dictionary(kind):
        return values.cast(pa.string()).dictionary_encode()
    return values.cast(pa.float64()).cast(kind, safe=False)


def _damage(draw, body: bytes) -> bytes:
    """The body as is, cut short, or with bytes overwritten."""
    how = draw(st.sampled_from(["intact", "cut", "flip"]))
    if how == "cut" and body:
        return body[: draw(st.integers(0, len(body) - 1))]
    if how == "flip" and body:
        at = draw(st.lists(st.integers(0, len(body) - 1), min_size=1, max_size=4))
        damaged = bytearray(body)
        for i in at:
            damaged[i] = draw(st.integers(0, 255))
        return bytes(damaged)
    return body


@FUZZ
@given(body=arrow_bodies())
def test_arrow_streams_are_answered(body):
    _post("/api/v1/predict/batch", body, ARROW, "?model=fraud")


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

NPY_DTYPES = ["<f8", ">f4", "<i1", "<u8", "|b1", "<c16", "<U3", "<M8[s]", "<f2", "|V4"]


@st.composite
def npy_bodies(draw) -> bytes:
    dtype = np.dtype(draw(st.sampled_from(NPY_DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(shape, dtype), allow_pickle=False)
    body = buffer.getvalue()
    lie = draw(st.sampled_from([None, "shape", "dtype", "version"]))
    if lie == "shape":
        body = body.replace(
            repr(shape).encode(), repr(tuple(draw(st.lists(st.integers(-2, 10**12), max_size=3)))).encode(), 1
        )
    elif lie == "dtype":
        body = body.replace(
            repr(dtype.str).encode(), repr(draw(st.sampled_from(NPY_DTYPES + ["O", "<f9"]))).encode(), 1
        )
    elif lie == "version":
        body = body[:6] + bytes([draw(st.integers(0, 4)), 0]) + body[8:]
    return _damage(draw, body)


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
def test_npy_bodies_are_answered(body):
    _post("/api/v1/predict/batch", body, NPY, "?model=fraud")


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
    inference, metrics = _serving()

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
    inference, metrics = _serving()
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
    inference, _ = _serving()
    request = pb.PredictBatchRequest(model="fraud", values=values, n_features=n_features)
    try:
        matrix = batch_rows(inference, request)
    except (BadRequest, TooLarge):
        assert len(values) % n_features or len(values) // n_features > LIMITS["max_rows"]
    else:
        assert matrix.shape == (len(values) // n_features, n_features)
