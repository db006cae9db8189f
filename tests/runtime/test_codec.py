"""Request parsing: every malformed body is a BadRequest or InvalidInput naming the problem."""

import io

import numpy as np
import orjson
import pyarrow as pa
import pytest

from models.errors import InvalidInput
from runtime.codec import ARROW, NPY, Answer, Rows, model_of, parse_json
from runtime.errors import BadRequest

NAMES = ["a", "b", "c"]


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(Rows.from_features([1, 2, 3]), [[1, 2, 3]], id="list"),
        pytest.param(Rows.from_features({"c": 3, "a": 1, "b": 2}), [[1, 2, 3]], id="named-any-order"),
        pytest.param(Rows.from_instances([[1, 2, 3], [4, 5, 6]]), [[1, 2, 3], [4, 5, 6]], id="instances"),
        pytest.param(Rows.from_binary(_npy(np.array([[1.0, 2, 3]])), NPY), [[1, 2, 3]], id="npy"),
        pytest.param(
            Rows.from_binary(_arrow(pa.table({"c": [3.0], "b": [2.0], "a": [1.0]})), ARROW),
            [[1, 2, 3]],
            id="arrow-by-name",
        ),
        pytest.param(
            Rows.from_binary(_arrow(pa.table({"x": [1.0], "y": [2.0], "z": [3.0]})), ARROW),
            [[1, 2, 3]],
            id="arrow-by-position",
        ),
    ],
)
def test_rows_become_the_models_matrix(rows, expected):
    np.testing.assert_array_equal(rows.matrix(NAMES), expected)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        pytest.param(
            lambda: Rows.from_features("1,2,3").matrix(NAMES),
            BadRequest,
            "list of numbers",
            id="text-features",
        ),
        pytest.param(
            lambda: Rows.from_features({"a": 1}).matrix(NAMES),
            BadRequest,
            "missing \\['b', 'c'\\]",
            id="named",
        ),
        pytest.param(
            lambda: Rows.from_instances([[1, 2, 3], 4]).matrix(NAMES), BadRequest, "list of rows", id="ragged"
        ),
        pytest.param(
            lambda: Rows.from_instances([[1, 2, 3], [1, 2]]).matrix(NAMES),
            InvalidInput,
            "not numeric",
            id="uneven",
        ),
        pytest.param(
            lambda: Rows.from_features([1, 2, float("inf")]).matrix(NAMES),
            InvalidInput,
            "non-finite",
            id="inf",
        ),
        pytest.param(
            lambda: Rows.from_binary(b"junk", NPY), BadRequest, "not a valid application/x-npy", id="npy"
        ),
        pytest.param(lambda: Rows.from_binary(b"junk", ARROW), BadRequest, "not a valid", id="arrow"),
        pytest.param(
            lambda: Rows.from_binary(b"x", "text/csv"), BadRequest, "unsupported content type", id="type"
        ),
        pytest.param(
            lambda: Rows.from_binary(_arrow(pa.table({"x": [1.0]})), ARROW).matrix(NAMES),
            BadRequest,
            "expected 3 feature columns",
            id="arrow-width",
        ),
        pytest.param(lambda: parse_json(b"[1, 2]"), BadRequest, "JSON object", id="not-object"),
        pytest.param(lambda: parse_json(b"{"), BadRequest, "not valid JSON", id="broken-json"),
        pytest.param(
            lambda: parse_json(b'{"features": [' + b"9" * 401 + b"]}"),
            BadRequest,
            "not valid JSON",
            id="huge-int",
        ),
        pytest.param(lambda: parse_json(b"[" * 100_000), BadRequest, "not valid JSON", id="deep-nesting"),
        pytest.param(lambda: model_of({"features": [1]}), BadRequest, "must name its model", id="no-model"),
    ],
)
def test_bad_bodies(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_answers_round_trip_through_arrow():
    answer = Answer("fraud", 3, 0.5, np.array([0.1, 0.9]), np.array([0, 1], dtype=np.int64))
    table = pa.ipc.open_stream(answer.as_arrow()).read_all()
    assert table.column("score").to_pylist() == [0.1, 0.9] and table.schema.metadata[b"version"] == b"3"
    assert table.column("label").type == pa.int8() and table.column("label").to_pylist() == [0, 1]
    assert orjson.loads(answer.as_json()) == {
        "model": "fraud",
        "version": 3,
        "threshold": 0.5,
        "scores": [0.1, 0.9],
        "labels": [0, 1],
    }
