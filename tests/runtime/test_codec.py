"""Request parsing: every malformed body is a BadRequest or InvalidInput naming the problem."""

import io
import logging

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


def _binary(body: bytes, content_type: str, max_rows: int = 1000, max_bytes: int = 2**20) -> Rows:
    return Rows.from_binary(body, content_type, max_rows, max_bytes)


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
        pytest.param(_binary(_npy(np.array([[1.0, 2, 3]])), NPY), [[1, 2, 3]], id="npy"),
        pytest.param(
            _binary(_arrow(pa.table({"c": [3.0], "b": [2.0], "a": [1.0]})), ARROW),
            [[1, 2, 3]],
            id="arrow-by-name",
        ),
        pytest.param(
            _binary(_arrow(pa.table({"0": [1.0], "1": [2.0], "2": [3.0]})), ARROW),
            [[1, 2, 3]],
            id="arrow-by-position",
        ),
        pytest.param(
            _binary(_arrow(pa.table({"column_0": [1], "column_1": [2], "column_2": [3]})), ARROW),
            [[1, 2, 3]],
            id="arrow-by-position-polars",
        ),
        pytest.param(Rows.from_instances([[1, 2.5, 18446744073709551615]]), [[1, 2.5, 2.0**64]], id="u64"),
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
        pytest.param(lambda: _binary(b"junk", NPY), BadRequest, "not a valid .npy array", id="npy"),
        pytest.param(lambda: _binary(b"junk", ARROW), BadRequest, "not a valid", id="arrow"),
        pytest.param(lambda: _binary(b"x", "text/csv"), BadRequest, "unsupported content type", id="type"),
        pytest.param(
            lambda: _binary(_arrow(pa.table({"x": [1.0]})), ARROW).matrix(NAMES),
            BadRequest,
            "expected 3 feature columns",
            id="arrow-width",
        ),
        pytest.param(
            lambda: _binary(_arrow(pa.table({"x": [1.0], "y": [2.0], "z": [3.0]})), ARROW).matrix(NAMES),
            BadRequest,
            "unknown \\['x', 'y', 'z'\\], missing \\['a', 'b', 'c'\\]",
            id="arrow-columns-named-neither-as-features-nor-by-position",
        ),
        pytest.param(
            lambda: _binary(_arrow(pa.table({"a": [1.0], "b": [2.0], "c": [3.0], "id": [7]})), ARROW).matrix(
                NAMES
            ),
            BadRequest,
            "unknown \\['id'\\]",
            id="arrow-extra-column",
        ),
        pytest.param(
            lambda: _binary(
                _arrow(pa.Table.from_arrays([pa.array([1.0])] * 3, names=["a", "a", "b"])), ARROW
            ).matrix(NAMES),
            BadRequest,
            "\\['a'\\] appear more than once",
            id="arrow-repeated-column",
        ),
        pytest.param(
            lambda: _binary(_arrow(pa.table({"a": [2**63 - 1], "b": [1], "c": [1]})), ARROW).matrix(NAMES),
            InvalidInput,
            "column 'a' cannot be read as float64 without rounding",
            id="arrow-int64-max",
        ),
        pytest.param(
            lambda: _binary(_arrow(pa.table({"a": [True], "b": [1], "c": [1]})), ARROW).matrix(NAMES),
            BadRequest,
            "non-numeric column\\(s\\): a \\(bool\\)",
            id="arrow-boolean",
        ),
        pytest.param(
            lambda: Rows.from_instances([[1, "2", 3]]),
            BadRequest,
            'row 1 holds a string \\("2"\\)',
            id="numeric-string",
        ),
        pytest.param(
            lambda: Rows.from_instances([[1, 2, 3], [1, True, 3]]),
            BadRequest,
            "row 2 holds a boolean \\(true\\)",
            id="boolean",
        ),
        pytest.param(lambda: Rows.from_features([1, None, 3]), BadRequest, "holds null", id="null"),
        pytest.param(
            lambda: Rows.from_features({"a": 1, "b": "2", "c": 3}),
            BadRequest,
            "holds a string",
            id="named-string",
        ),
        pytest.param(
            lambda: parse_json(b'{"model": "m", "features": {"a": 1, "b": 2, "a": 3}}'),
            BadRequest,
            "\\['a'\\] appear more than once",
            id="repeated-feature",
        ),
        pytest.param(
            lambda: parse_json(b'{"model": "m", "model": "n", "instances": []}'),
            BadRequest,
            "\\['model'\\] appear more than once",
            id="repeated-field",
        ),
        pytest.param(
            lambda: parse_json(b'{"model": "m", "meta": {"x": {"k": 1, "k": 2}}}'),
            BadRequest,
            "\\['k'\\] appear more than once",
            id="repeated-nested-key",
        ),
        pytest.param(
            lambda: parse_json(b'{"model": "m", "features": [' + b"9" * 5000 + b"]}"),
            BadRequest,
            "not valid JSON",
            id="5000-digit-int",
        ),
        pytest.param(
            lambda: _binary(_npy(np.zeros((10, 4))).replace(b"(10, 4)", b"(10000000000, 4)"), NPY),
            BadRequest,
            "claims shape \\(10000000000, 4\\)",
            id="npy-header-claims-more-than-the-body",
        ),
        *[
            pytest.param(lambda a=array: _binary(_npy(a), NPY), BadRequest, f"holds {kind}", id=f"npy-{kind}")
            for kind, array in [
                ("bool", np.array([[True, False, True]])),
                ("complex128", np.array([[1 + 1j, 2, 3]])),
                ("datetime64", np.array([["2020-01-01"] * 3], dtype="datetime64[D]")),
                ("<U1", np.array([["1", "2", "3"]])),
                ("object", np.array([[1, 2, 3]], dtype=object)),
            ]
        ],
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


class _Leaky:
    """A value whose conversion fails in a way no check foresaw, quoting itself."""

    def __float__(self):
        raise RuntimeError("card 4111-1111-1111-1111 could not be read")


def test_an_unforeseen_failure_reading_rows_is_logged_without_the_rows(caplog):
    with caplog.at_level(logging.ERROR, logger="raynomaly.gateway"), pytest.raises(BadRequest) as refused:
        Rows("named", {"a": _Leaky()}).matrix(["a"])
    assert "4111" in str(refused.value)  # the caller is told what was wrong with their own rows
    [record] = caplog.records
    assert "RuntimeError at" in record.getMessage() and record.exc_info is None
    assert "4111" not in caplog.text


@pytest.mark.parametrize(
    ("rows", "issues"),
    [
        pytest.param(Rows.from_features({"a": 1, "c": 3}), {("b", "missing"): 1}, id="named-missing"),
        pytest.param(Rows.from_features({"a": 1, "b": 2, "c": 3}), {}, id="named-complete"),
        pytest.param(_binary(_npy(np.array([[np.nan, 1, np.inf], [1, 2, np.nan]])), NPY),
                     {("a", "non_finite"): 1, ("c", "non_finite"): 2}, id="npy-non-finite"),
        pytest.param(_binary(_arrow(pa.table({"c": [1.0, float("nan")], "a": [None, 2.0]})), ARROW),
                     {("a", "missing"): 1, ("b", "missing"): 2, ("c", "non_finite"): 1}, id="arrow-by-name"),
        pytest.param(_binary(_arrow(pa.table({"0": [1.0], "1": [float("inf")], "2": [3]})), ARROW),
                     {("b", "non_finite"): 1}, id="arrow-by-position"),
        pytest.param(Rows.from_instances([[1.0, 2.0], [1.0]]), {}, id="ragged-blames-no-feature"),
        pytest.param(Rows("table", object()), {}, id="unreadable-never-raises"),
    ],
)  # fmt: skip
def test_issues_of_refused_rows_name_each_feature(rows, issues):
    assert rows.issues(NAMES) == issues
