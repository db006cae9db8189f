"""Hypothesis strategies for hostile inputs to the gateway: arbitrary JSON where the rows go, raw
texts that stress the parser, Arrow IPC streams of random schemas, dtypes and compression, .npy
arrays whose headers lie, each intact, cut short or with bytes overwritten. The fuzz tests and
benchmarks/bench_hostile.py draw from them."""

import io

import numpy as np
import pyarrow as pa
from hypothesis import strategies as st

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


# Well-formed bodies of the doubled core's two features (a, b), for the answers past the checks

finite = st.floats(-1e6, 1e6, allow_nan=False)
table_rows = st.lists(st.tuples(finite, finite), min_size=1, max_size=8)


@st.composite
def scoreable_arrow(draw) -> bytes:
    """An Arrow IPC stream of columns a and b."""
    values = draw(table_rows)
    table = pa.table({"a": [a for a, _ in values], "b": [b for _, b in values]})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


@st.composite
def scoreable_npy(draw) -> bytes:
    """A rows x 2 float64 .npy array."""
    buffer = io.BytesIO()
    np.save(buffer, np.array(draw(table_rows), dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()
