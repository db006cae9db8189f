"""What the gateway's OpenAPI document declares for the Open Inference Protocol's routes: the infer
body (JSON, or a JSON header and raw tensors), the answer, and the metadata documents."""

from runtime.codec import JSON
from runtime.oip.rest import HEADER_LENGTH, OCTETS
from runtime.oip.tensors import NUMERIC, OUTPUTS
from runtime.openapi import BINARY, PIN, SECURED, errors

_PARAMETERS = {"type": "object", "description": "Protocol parameters, e.g. binary_data_size."}
_TENSOR = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"const": "features"},
        "datatype": {"enum": list(NUMERIC)},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "data": {"type": "array", "description": "Row-major values, flat or nested."},
        "parameters": _PARAMETERS,
    },
}
_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": _PARAMETERS,
        "inputs": {"type": "array", "items": _TENSOR},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"enum": list(OUTPUTS)}, "parameters": _PARAMETERS},
            },
        },
    },
}
_OUTPUT = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"enum": list(OUTPUTS)},
        "datatype": {"enum": list(OUTPUTS.values())},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "data": {"type": "array", "items": {"type": "number"}},
        "parameters": _PARAMETERS,
    },
}
_ANSWER = {
    "type": "object",
    "required": ["model_name", "model_version", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string", "description": "The version that scored every row."},
        "id": {"type": "string"},
        "parameters": {"type": "object", "properties": {"threshold": {"type": "number"}}},
        "outputs": {"type": "array", "items": _OUTPUT},
    },
}
HEADER = {
    "name": HEADER_LENGTH,
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Binary tensor extension: the length of the JSON header; raw tensors follow it.",
}
INFER = {
    **SECURED,
    "parameters": [HEADER, PIN],
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": _REQUEST},
            OCTETS: {"schema": BINARY, "description": "The JSON header, then each binary input's bytes."},
        },
    },
}
INFER_ANSWERS = {
    200: {
        "description": "The outputs; a JSON header then raw outputs when any output was asked binary.",
        "content": {JSON: {"schema": _ANSWER}, OCTETS: {"schema": BINARY}},
    },
    **errors(),
}
_TENSOR_METADATA = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
    },
}
METADATA_ANSWERS = {
    200: {
        "description": "The model's versions, platform, input and outputs.",
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["name", "platform", "inputs", "outputs"],
                    "properties": {
                        "name": {"type": "string"},
                        "versions": {"type": "array", "items": {"type": "string"}},
                        "platform": {"type": "string"},
                        "inputs": {"type": "array", "items": _TENSOR_METADATA},
                        "outputs": {"type": "array", "items": _TENSOR_METADATA},
                    },
                }
            }
        },
    },
    **errors(),
}
INFER_VERSION = {**INFER, "parameters": [HEADER]}
"""The versioned path pins by itself."""
MODEL_READY_ANSWERS = {
    200: {"description": "The version is loaded.", "content": {JSON: {"schema": {"type": "object"}}}},
    **errors(),
}
