"""Tensors of the Open Inference Protocol, in and out (pure).

A request's input is checked against its own declaration (datatype, shape, and the bytes or
values that must fill it) and read straight from the raw buffer, with no per-element Python work;
answers go out as `scores` (FP64) and `labels` (INT64). Every mismatch is a BadRequest naming the
tensor, what it declared and what it held.
"""

import math
from dataclasses import dataclass
from itertools import chain

import numpy as np

from runtime.errors import BadRequest

DTYPES = {
    "BOOL": np.dtype("?"), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}  # fmt: skip
"""Datatype names of the protocol -> the little-endian NumPy type of their raw bytes."""
NUMERIC = tuple(name for name in DTYPES if name != "BOOL")
"""The datatypes a model's input may be sent as (each read as float64)."""
INPUT = "features"
"""The one input of every model: rows of features, shape [-1, n_features]."""
OUTPUTS = {"scores": "FP64", "labels": "INT64"}
"""What every model answers: one score and one label (1: anomaly) per row."""
_JSON_KINDS = {"FP": {int, float}, "IN": {int}, "UI": {int}}


@dataclass(frozen=True)
class Declared:
    """An input tensor as a request declares it."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    @classmethod
    def of(cls, name, datatype, shape) -> "Declared":
        """Checked: a string name, a numeric datatype, a shape of non-negative integers."""
        if not isinstance(name, str) or not name:
            raise BadRequest('every input needs a "name" (a string)')
        if datatype not in NUMERIC:
            raise BadRequest(
                f"input {name!r}: datatype {datatype!r} is not accepted; send one of {', '.join(NUMERIC)}"
            )
        if not isinstance(shape, list | tuple) or not all(type(d) is int and d >= 0 for d in shape):
            raise BadRequest(f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}")
        return cls(name, datatype, tuple(shape))

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes its raw contents must hold."""
        return self.size * DTYPES[self.datatype].itemsize

    def said(self) -> str:
        """How a message names it."""
        return f"input {self.name!r} ({self.datatype} {list(self.shape)})"


@dataclass(frozen=True)
class Call:
    """An infer request, read: its rows, its id, the outputs it asks for and which go back raw."""

    matrix: np.ndarray
    id: str | None
    outputs: tuple[str, ...]
    binary: frozenset[str]


def from_raw(declared: Declared, raw) -> np.ndarray:
    """The tensor in `raw` (bytes of the declared datatype, row-major), without copying."""
    if len(raw) != declared.nbytes:
        raise BadRequest(
            f"{declared.said()} needs {declared.nbytes:,} bytes but {len(raw):,} were sent; "
            "the shape, the datatype and the bytes must agree"
        )
    return np.frombuffer(raw, DTYPES[declared.datatype]).reshape(declared.shape)


def from_values(declared: Declared, values) -> np.ndarray:
    """The tensor of JSON or protobuf values, flat or nested as deep as the shape (row-major)."""
    if not isinstance(values, list):
        values = list(values)
    for _ in range(len(declared.shape) - 1):
        if values and all(isinstance(v, list) for v in values):
            values = list(chain.from_iterable(values))
    allowed = _JSON_KINDS[declared.datatype[:2]]
    kinds = set(map(type, values))
    if not kinds <= allowed:
        shown = sorted(k.__name__ for k in kinds - allowed)
        wanted = "integers" if allowed == {int} else "numbers"
        raise BadRequest(f"{declared.said()} holds {', '.join(shown)} values; its data must be {wanted}")
    if len(values) != declared.size:
        raise BadRequest(
            f"{declared.said()} declares {declared.size:,} values but holds {len(values):,}; "
            "the shape and the data must agree"
        )
    try:
        return np.asarray(values, DTYPES[declared.datatype]).reshape(declared.shape)
    except OverflowError as e:
        raise BadRequest(f"{declared.said()}: a value does not fit its datatype: {e}") from None


def rows(declared: Declared, tensor: np.ndarray) -> np.ndarray:
    """The model's input as float64 rows: a 2-D tensor [rows, n_features]."""
    if tensor.ndim != 2:
        raise BadRequest(
            f"{declared.said()} must be 2-D [rows, n_features] (one row: [1, n_features]), "
            f"got {tensor.ndim}-D"
        )
    return tensor.astype(np.float64, copy=False)


def only_input(inputs: list) -> object:
    """The one input of a request (`INPUT`): BadRequest if it sends none, several, or another name."""
    names = [getattr(i, "name", None) if not isinstance(i, dict) else i.get("name") for i in inputs]
    if names != [INPUT]:
        raise BadRequest(
            f"the model takes one input named {INPUT!r} (FP64, FP32 or integers, shape [rows, "
            f"n_features]); the request sent {names}"
        )
    return inputs[0]


def requested(names: list[str]) -> tuple[str, ...]:
    """The outputs a request asks for, in its order (all when it names none)."""
    unknown = [name for name in names if name not in OUTPUTS]
    if unknown:
        offered = ", ".join(f"{n!r} ({t})" for n, t in OUTPUTS.items())
        raise BadRequest(f"unknown output(s) {unknown}; every model answers {offered}")
    return tuple(names) or tuple(OUTPUTS)


def outputs(scores: np.ndarray, labels: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named outputs of an answer, in their wire datatypes."""
    tensors = {"scores": np.asarray(scores, "<f8"), "labels": np.asarray(labels, "<i8")}
    return {name: tensors[name] for name in names}


def metadata(model: str, versions: list[int], n_features: int, platform: str) -> dict:
    """The model metadata document (HTTP body; the gRPC answer has the same fields)."""
    return {
        "name": model,
        "versions": [str(v) for v in versions],
        "platform": platform,
        "inputs": [{"name": INPUT, "datatype": "FP64", "shape": [-1, n_features]}],
        "outputs": [{"name": name, "datatype": kind, "shape": [-1]} for name, kind in OUTPUTS.items()],
    }
