"""The Open Inference Protocol over HTTP (pure): an infer body in — JSON, or with the binary
tensor extension a JSON header followed by the raw tensors — and the answer out the same way.

The JSON header's length is the `Inference-Header-Content-Length` header; an input whose
`parameters.binary_data_size` is set is read from the bytes after it; an output is answered raw
when it asks for `binary_data` (or the request for `binary_data_output`).
"""

import orjson

from runtime.codec import JSON, Answer, parse_json
from runtime.errors import BadRequest
from runtime.oip import tensors
from runtime.oip.tensors import OUTPUTS, Call, Declared

HEADER_LENGTH = "inference-header-content-length"
OCTETS = "application/octet-stream"
EXTENSIONS = ["binary_tensor_data"]


def _parameters(holder: dict, where: str) -> dict:
    parameters = holder.get("parameters", {})
    if not isinstance(parameters, dict):
        raise BadRequest(f'"parameters" of {where} must be an object')
    return parameters


def split(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """The JSON header and the raw bytes after it."""
    if header_length is None:
        return body, memoryview(b"")
    if not header_length.isascii() or not header_length.isdigit() or int(header_length) > len(body):
        raise BadRequest(
            f"Inference-Header-Content-Length {header_length!r} is not a length within the body's "
            f"{len(body):,} bytes"
        )
    length = int(header_length)
    return body[:length], memoryview(body)[length:]


def read_call(body: bytes, header_length: str | None) -> Call:
    """An infer body, checked: one input `features`, from `data` or from raw bytes."""
    header, raw = split(body, header_length)
    document = parse_json(header)
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise BadRequest('"inputs" must be a list of tensors: [{"name", "datatype", "shape", "data"}]')
    spec = tensors.only_input(inputs)
    declared = Declared.of(spec.get("name"), spec.get("datatype"), spec.get("shape"))
    size = _parameters(spec, declared.said()).get("binary_data_size")
    if size is not None:
        if type(size) is not int or size != len(raw) or "data" in spec:
            raise BadRequest(
                f"{declared.said()} says binary_data_size {size!r}, but {len(raw):,} bytes follow the "
                "JSON header (and it must not also hold data)"
            )
        tensor = tensors.from_raw(declared, raw)
    elif len(raw):
        raise BadRequest(f"{len(raw):,} bytes follow the JSON header but no input declares binary_data_size")
    elif "data" not in spec:
        raise BadRequest(f'{declared.said()} holds no "data" and no binary_data_size parameter')
    else:
        tensor = tensors.from_values(declared, spec["data"])
    return Call(tensors.rows(declared, tensor), _id(document), *_outputs(document))


def _id(document: dict) -> str | None:
    identifier = document.get("id")
    if identifier is not None and not isinstance(identifier, str):
        raise BadRequest('"id" must be a string')
    return identifier


def _outputs(document: dict) -> tuple[tuple[str, ...], frozenset[str]]:
    asked = document.get("outputs", [])
    if not isinstance(asked, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                              for o in asked):  # fmt: skip
        raise BadRequest('"outputs" must be a list of {"name": "scores" or "labels", "parameters": {..}}')
    every = _parameters(document, "the request").get("binary_data_output", False) is True
    names = tensors.requested([o["name"] for o in asked])
    if not asked:
        return names, frozenset(names if every else ())
    binary = [o["name"] for o in asked if _parameters(o, f"output {o['name']!r}").get("binary_data", every)]
    return names, frozenset(binary)


def answer(call: Call, scored: Answer) -> tuple[bytes, dict[str, str]]:
    """The response body and its headers: JSON, or a JSON header and the raw outputs after it."""
    described, raw = [], []
    for name, tensor in tensors.outputs(scored.scores, scored.labels, call.outputs).items():
        entry = {"name": name, "datatype": OUTPUTS[name], "shape": list(tensor.shape)}
        if name in call.binary:
            entry["parameters"] = {"binary_data_size": tensor.nbytes}
            raw.append(tensor.tobytes())
        else:
            entry["data"] = tensor
        described.append(entry)
    document = {"model_name": scored.model, "model_version": str(scored.version)}
    if call.id is not None:
        document["id"] = call.id
    document |= {"parameters": {"threshold": scored.threshold}, "outputs": described}
    header = orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    if not raw:
        return header, {"content-type": JSON}
    return b"".join([header, *raw]), {"content-type": OCTETS, HEADER_LENGTH: str(len(header))}
