"""The Open Inference Protocol over gRPC (pure): `ModelInferRequest` in, `ModelInferResponse` out.

Raw input contents are read without copying; an answer comes back raw when the request came raw,
and in typed `contents` otherwise (as KServe's servers answer).
"""

from runtime.codec import Answer
from runtime.errors import BadRequest
from runtime.oip import tensors
from runtime.oip.tensors import OUTPUTS, Call, Declared
from runtime.rpc import open_inference_pb2 as oip

CONTENTS = {
    "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
    "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents",
}  # fmt: skip
"""The typed `contents` field of each datatype (FP16 travels raw only)."""


def read_request(request: oip.ModelInferRequest) -> Call:
    """An infer request, checked: one input `features`, from its raw bytes or its typed contents."""
    spec = tensors.only_input(list(request.inputs))
    declared = Declared.of(spec.name, spec.datatype, list(spec.shape))
    if request.raw_input_contents:
        if len(request.raw_input_contents) != 1 or spec.HasField("contents"):
            raise BadRequest(
                f"{declared.said()}: send either one raw_input_contents entry per input or typed "
                f"contents, not both ({len(request.raw_input_contents)} raw entries for 1 input)"
            )
        tensor = tensors.from_raw(declared, request.raw_input_contents[0])
    elif declared.datatype not in CONTENTS:
        raise BadRequest(f"{declared.said()}: {declared.datatype} travels only in raw_input_contents")
    else:
        tensor = tensors.from_values(declared, getattr(spec.contents, CONTENTS[declared.datatype]))
    names = tensors.requested([output.name for output in request.outputs])
    raw = frozenset(names if request.raw_input_contents else ())
    return Call(tensors.rows(declared, tensor), request.id or None, names, raw)


def respond(call: Call, scored: Answer) -> oip.ModelInferResponse:
    """The answer to `call`."""
    response = oip.ModelInferResponse(
        model_name=scored.model, model_version=str(scored.version), id=call.id or ""
    )
    response.parameters["threshold"].double_param = scored.threshold
    for name, tensor in tensors.outputs(scored.scores, scored.labels, call.outputs).items():
        output = response.outputs.add(name=name, datatype=OUTPUTS[name], shape=list(tensor.shape))
        if name in call.binary:
            response.raw_output_contents.append(tensor.tobytes())
        else:
            getattr(output.contents, CONTENTS[OUTPUTS[name]]).extend(tensor.tolist())
    return response


def model_metadata(document: dict) -> oip.ModelMetadataResponse:
    """`tensors.metadata`'s document as the gRPC answer."""
    tensor = oip.ModelMetadataResponse.TensorMetadata
    return oip.ModelMetadataResponse(
        name=document["name"], versions=document["versions"], platform=document["platform"],
        inputs=[tensor(**t) for t in document["inputs"]], outputs=[tensor(**t) for t in document["outputs"]],
    )  # fmt: skip
