"""The Open Inference Protocol over gRPC, as messages: raw or typed contents in, raw answers to raw
requests and typed answers to typed ones."""

import numpy as np
import pytest

from runtime.codec import Answer
from runtime.errors import BadRequest
from runtime.oip.messages import model_metadata, read_request, respond
from runtime.oip.tensors import metadata
from runtime.rpc import open_inference_pb2 as oip

Tensor = oip.ModelInferRequest.InferInputTensor
ANSWER = Answer("fraud", 3, 0.5, np.array([0.25, 0.75]), np.array([0, 1]))


def test_raw_contents_are_answered_raw():
    rows = np.arange(4, dtype="<f4").reshape(2, 2)
    tensor = Tensor(name="features", datatype="FP32", shape=[2, 2])
    request = oip.ModelInferRequest(
        model_name="fraud", id="q", inputs=[tensor], raw_input_contents=[rows.tobytes()]
    )
    call = read_request(request)
    assert call.matrix.tolist() == rows.tolist() and call.id == "q"
    response = respond(call, ANSWER)
    assert (response.model_name, response.model_version, response.id) == ("fraud", "3", "q")
    assert [o.name for o in response.outputs] == ["scores", "labels"]
    assert np.frombuffer(response.raw_output_contents[0], "<f8").tolist() == [0.25, 0.75]
    assert np.frombuffer(response.raw_output_contents[1], "<i8").tolist() == [0, 1]
    assert response.parameters["threshold"].double_param == 0.5


def test_typed_contents_are_answered_typed_with_the_outputs_asked():
    contents = oip.InferTensorContents(int_contents=[1, 2, 3, 4])
    tensor = Tensor(name="features", datatype="INT32", shape=[2, 2], contents=contents)
    labels = oip.ModelInferRequest.InferRequestedOutputTensor(name="labels")
    request = oip.ModelInferRequest(model_name="fraud", inputs=[tensor], outputs=[labels])
    response = respond(read_request(request), ANSWER)
    assert not response.raw_output_contents and response.id == ""
    assert [(o.name, list(o.shape), list(o.contents.int64_contents)) for o in response.outputs] == [
        ("labels", [2], [0, 1])
    ]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        pytest.param(
            oip.ModelInferRequest(
                inputs=[Tensor(name="features", datatype="FP64", shape=[2, 2])],
                raw_input_contents=[b"\0" * 24],
            ),
            "needs 32 bytes but 24",
            id="short-raw",
        ),  # fmt: skip
        pytest.param(
            oip.ModelInferRequest(
                inputs=[Tensor(name="features", datatype="FP64", shape=[1, 2])],
                raw_input_contents=[b"\0" * 16, b"\0" * 16],
            ),
            "one raw_input_contents entry per input",
            id="two-raws",
        ),  # fmt: skip
        pytest.param(
            oip.ModelInferRequest(inputs=[Tensor(name="features", datatype="FP16", shape=[1, 2])]),
            "FP16 travels only in raw_input_contents",
            id="fp16-typed",
        ),  # fmt: skip
        pytest.param(
            oip.ModelInferRequest(
                inputs=[
                    Tensor(
                        name="features",
                        datatype="FP64",
                        shape=[1, 3],
                        contents=oip.InferTensorContents(fp64_contents=[1, 2]),
                    )
                ]
            ),
            "declares 3 values but holds 2",
            id="typed-short",
        ),  # fmt: skip
        pytest.param(
            oip.ModelInferRequest(
                inputs=[
                    Tensor(
                        name="features",
                        datatype="FP64",
                        shape=[1, 2],
                        contents=oip.InferTensorContents(fp32_contents=[1, 2]),
                    )
                ]
            ),
            "declares 2 values but holds 0",
            id="wrong-contents-field",
        ),  # fmt: skip
        pytest.param(oip.ModelInferRequest(), "takes one input named 'features'", id="no-input"),
    ],
)
def test_bad_messages_are_invalid_arguments_that_name_them(request_, message):
    with pytest.raises(BadRequest, match=message):
        read_request(request_)


def test_model_metadata_as_a_message():
    response = model_metadata(metadata("fraud", [1, 2], 5, "numba"))
    assert (response.name, list(response.versions), response.platform) == ("fraud", ["1", "2"], "numba")
    assert [(t.name, t.datatype, list(t.shape)) for t in response.inputs] == [("features", "FP64", [-1, 5])]
