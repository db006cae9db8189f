"""Tensors of the Open Inference Protocol: declared datatype, shape and contents checked against
each other, raw bytes read without copying, every mismatch a BadRequest naming the tensor."""

import numpy as np
import pytest

from runtime.errors import BadRequest
from runtime.oip.tensors import (
    DTYPES,
    NUMERIC,
    Declared,
    from_raw,
    from_values,
    metadata,
    only_input,
    outputs,
    requested,
    rows,
)


@pytest.mark.parametrize("datatype", NUMERIC)
def test_raw_bytes_of_every_datatype_read_as_float64_rows(datatype):
    declared = Declared.of("features", datatype, [2, 3])
    sent = np.arange(6).reshape(2, 3).astype(DTYPES[datatype])
    matrix = rows(declared, from_raw(declared, sent.tobytes()))
    assert matrix.dtype == np.float64 and matrix.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_fp64_raw_bytes_are_not_copied():
    raw = np.ones((4, 2)).tobytes()
    tensor = from_raw(Declared.of("features", "FP64", [4, 2]), raw)
    assert rows(Declared.of("features", "FP64", [4, 2]), tensor).base is not None
    assert np.shares_memory(tensor, np.frombuffer(raw, "<f8"))


@pytest.mark.parametrize(
    ("shape", "size", "message"),
    [
        pytest.param([2, 3], 40, "needs 48 bytes but 40 were sent", id="short"),
        pytest.param([2, 3], 56, "needs 48 bytes but 56 were sent", id="long"),
        pytest.param([0, 3], 8, "needs 0 bytes but 8 were sent", id="empty-shape"),
    ],
)
def test_bytes_that_do_not_fill_the_shape_are_refused(shape, size, message):
    with pytest.raises(BadRequest, match=message):
        from_raw(Declared.of("features", "FP64", shape), b"\0" * size)


@pytest.mark.parametrize(
    ("name", "datatype", "shape", "message"),
    [
        pytest.param("", "FP64", [1, 2], 'needs a "name"', id="no-name"),
        pytest.param("features", "BYTES", [1, 2], "datatype 'BYTES' is not accepted", id="bytes"),
        pytest.param("features", "BOOL", [1, 2], "datatype 'BOOL' is not accepted", id="bool"),
        pytest.param("features", "fp64", [1, 2], "datatype 'fp64' is not accepted", id="lower-case"),
        pytest.param("features", "FP64", [1, -2], "non-negative integers", id="negative"),
        pytest.param("features", "FP64", [1.0, 2], "non-negative integers", id="float-dim"),
        pytest.param("features", "FP64", [True, 2], "non-negative integers", id="bool-dim"),
        pytest.param("features", "FP64", "1,2", "non-negative integers", id="string"),
    ],
)
def test_declarations_are_checked(name, datatype, shape, message):
    with pytest.raises(BadRequest, match=message):
        Declared.of(name, datatype, shape)


@pytest.mark.parametrize("data", [[1, 2, 3, 4], [[1, 2], [3, 4]]], ids=["flat", "nested"])
def test_values_flat_or_nested_fill_the_shape(data):
    assert from_values(Declared.of("features", "FP32", [2, 2]), data).tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        pytest.param("FP64", [1, 2, 3], "declares 4 values but holds 3", id="too-few"),
        pytest.param("FP64", [1, 2, "3", 4], "holds str values", id="string"),
        pytest.param("FP64", [1, 2, True, 4], "holds bool values", id="bool"),
        pytest.param("FP64", [1, 2, None, 4], "holds NoneType values", id="null"),
        pytest.param("FP64", [[1, 2], 3, 4], "holds list values", id="ragged"),
        pytest.param("INT64", [1, 2, 3.5, 4], "must be integers", id="float-as-int"),
        pytest.param("INT8", [1, 2, 300, 4], "does not fit its datatype", id="overflow"),
        pytest.param("UINT8", [1, 2, -1, 4], "does not fit its datatype", id="negative-unsigned"),
    ],
)
def test_values_that_do_not_match_the_declaration_are_refused(datatype, data, message):
    with pytest.raises(BadRequest, match=message):
        from_values(Declared.of("features", datatype, [2, 2]), data)


def test_the_model_input_must_be_two_dimensional():
    declared = Declared.of("features", "FP64", [4])
    with pytest.raises(BadRequest, match=r"must be 2-D \[rows, n_features\].*got 1-D"):
        rows(declared, from_values(declared, [1, 2, 3, 4]))


@pytest.mark.parametrize("names", [[], ["x"], ["features", "features"], ["features", "more"]])
def test_a_request_sends_exactly_the_features_input(names):
    with pytest.raises(BadRequest, match="takes one input named 'features'"):
        only_input([{"name": name} for name in names])


def test_outputs_are_named_in_the_requested_order_and_unknown_ones_refused():
    assert requested([]) == ("scores", "labels")
    assert requested(["labels"]) == ("labels",)
    with pytest.raises(BadRequest, match=r"unknown output\(s\) \['probability'\]"):
        requested(["scores", "probability"])
    tensors = outputs(np.array([0.5]), np.array([1], np.int8), ("labels", "scores"))
    assert list(tensors) == ["labels", "scores"]
    assert tensors["labels"].dtype == np.dtype("<i8") and tensors["scores"].dtype == np.dtype("<f8")


def test_metadata_names_the_input_shape_by_the_feature_count():
    document = metadata("fraud", [1, 2], 8, "onnxruntime_onnx")
    assert document["versions"] == ["1", "2"]
    assert document["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 8]}]
    assert [o["name"] for o in document["outputs"]] == ["scores", "labels"]
