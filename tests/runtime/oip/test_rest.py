"""The Open Inference Protocol over HTTP, as bodies: JSON tensors and the binary tensor extension
in, JSON or JSON-then-raw answers out; every lie about sizes a 400 that says which."""

import json

import numpy as np
import pytest

from runtime.codec import Answer
from runtime.errors import BadRequest
from runtime.oip.rest import answer, read_call

ROWS = np.arange(6, dtype=np.float64).reshape(3, 2)


def binary(
    rows: np.ndarray, datatype: str = "FP64", size: int | None = None, **document
) -> tuple[bytes, str]:
    raw = rows.tobytes()
    tensor = {"name": "features", "datatype": datatype, "shape": list(rows.shape),
              "parameters": {"binary_data_size": len(raw) if size is None else size}}  # fmt: skip
    header = json.dumps({"inputs": [tensor], **document}).encode()
    return header + raw, str(len(header))


def test_binary_and_json_tensors_read_the_same_rows():
    body, length = binary(ROWS)
    from_binary = read_call(body, length)
    document = {"id": "r-1", "inputs": [{"name": "features", "datatype": "FP64", "shape": [3, 2],
                                         "data": ROWS.tolist()}]}  # fmt: skip
    from_json = read_call(json.dumps(document).encode(), None)
    assert from_binary.matrix.tolist() == from_json.matrix.tolist() == ROWS.tolist()
    assert (from_binary.id, from_json.id) == (None, "r-1")


def test_fp32_bytes_are_read_as_float64():
    body, length = binary(ROWS.astype("<f4"), "FP32")
    assert read_call(body, length).matrix.dtype == np.float64


@pytest.mark.parametrize(
    ("body_and_length", "message"),
    [
        pytest.param(binary(ROWS, size=40), "says binary_data_size 40, but 48 bytes follow", id="size-lie"),
        pytest.param(binary(ROWS, size="48"), "binary_data_size '48'", id="size-string"),
        pytest.param((binary(ROWS)[0], "10000"), "not a length within the body", id="header-beyond-body"),
        pytest.param((binary(ROWS)[0], "-1"), "not a length within the body", id="header-negative"),
        pytest.param((binary(ROWS)[0], "12"), "not valid JSON", id="header-short"),
        pytest.param((binary(ROWS)[0] + b"\0" * 8, None), "not valid JSON", id="no-header-length"),
        pytest.param(binary(ROWS.astype("<f4"), "FP64", size=24), "needs 48 bytes but 24", id="datatype-lie"),
    ],
)
def test_binary_lies_are_400s_that_name_them(body_and_length, message):
    with pytest.raises(BadRequest, match=message):
        read_call(*body_and_length)


def test_bytes_after_the_header_need_a_binary_input():
    document = {"inputs": [{"name": "features", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}]}
    header = json.dumps(document).encode()
    with pytest.raises(BadRequest, match="8 bytes follow the JSON header but no input declares"):
        read_call(header + b"\0" * 8, str(len(header)))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param({}, '"inputs" must be a list', id="no-inputs"),
        pytest.param({"inputs": {"name": "features"}}, '"inputs" must be a list', id="inputs-object"),
        pytest.param(
            {"inputs": [{"name": "features", "datatype": "FP64", "shape": [1, 2]}]},
            'holds no "data"',
            id="no-data",
        ),  # fmt: skip
        pytest.param(
            {
                "inputs": [
                    {
                        "name": "features",
                        "datatype": "FP64",
                        "shape": [1, 2],
                        "data": [1, 2],
                        "parameters": [],
                    }
                ]
            },
            '"parameters" of input',
            id="parameters-list",
        ),  # fmt: skip
        pytest.param(
            {"id": 7, "inputs": [{"name": "features", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}]},
            '"id" must be a string',
            id="id-number",
        ),  # fmt: skip
        pytest.param(
            {
                "outputs": ["scores"],
                "inputs": [{"name": "features", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}],
            },
            '"outputs" must be a list of',
            id="outputs-strings",
        ),  # fmt: skip
    ],
)
def test_malformed_documents_are_400s(document, message):
    with pytest.raises(BadRequest, match=message):
        read_call(json.dumps(document).encode(), None)


def _answered(call) -> tuple[dict, bytes, dict]:
    body, headers = answer(call, Answer("fraud", 2, 0.5, np.array([0.25, 0.75]), np.array([0, 1])))
    length = int(headers.get("inference-header-content-length", len(body)))
    return json.loads(body[:length]), body[length:], headers


def test_outputs_come_back_raw_when_asked_and_as_json_otherwise():
    body, length = binary(ROWS[:2], id="x", parameters={"binary_data_output": True})
    document, raw, headers = _answered(read_call(body, length))
    assert headers["content-type"] == "application/octet-stream"
    assert (document["model_name"], document["model_version"], document["id"]) == ("fraud", "2", "x")
    sizes = [o["parameters"]["binary_data_size"] for o in document["outputs"]]
    assert sizes == [16, 16] and np.frombuffer(raw[:16], "<f8").tolist() == [0.25, 0.75]
    assert np.frombuffer(raw[16:], "<i8").tolist() == [0, 1]
    body, length = binary(ROWS[:2], outputs=[{"name": "labels", "parameters": {"binary_data": False}}])
    document, raw, headers = _answered(read_call(body, length))
    assert headers["content-type"] == "application/json" and raw == b""
    assert document["outputs"] == [{"name": "labels", "datatype": "INT64", "shape": [2], "data": [0, 1]}]
    assert "id" not in document and document["parameters"] == {"threshold": 0.5}
