"""Field errors: why the API server refuses an object, one cause per field, worded as Kubernetes words them.

`str(FieldError)` reads like apimachinery's `field.Error` ("spec.x: Required value"), and `reason` is
the `details.causes[].reason` of the Status the server answers with.
"""

import json
from dataclasses import dataclass
from typing import Any

REASONS = {
    "Required value": "FieldValueRequired",
    "Invalid value": "FieldValueInvalid",
    "Unsupported value": "FieldValueNotSupported",
    "Duplicate value": "FieldValueDuplicate",
    "Too long": "FieldValueTooLong",
    "Too many": "FieldValueTooMany",
    "Forbidden": "FieldValueForbidden",
}
# Errors after which Kubernetes does not evaluate CEL rules (apiextensions-apiserver's hasBlockingErr).
BLOCKING = frozenset({"Required value", "Unsupported value", "Too long", "Too many", "type"})
NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


def shown(value: Any) -> str:
    """A value the way field errors print it (strings quoted, objects as JSON)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def type_name(value: Any) -> str:
    """The JSON type of a decoded value, as the OpenAPI type errors name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    names = {float: "number", str: "string", dict: "object", list: "array"}
    return names.get(type(value), type(value).__name__)


def join(parent: str, key: str | int) -> str:
    """The field path of `key` under `parent`: `spec.containers[0].name`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


@dataclass(frozen=True)
class FieldError:
    """One cause: the field, the kind of error (a key of REASONS, or "type"), and what to say."""

    field: str
    kind: str
    detail: str = ""
    value: Any = None

    @property
    def reason(self) -> str:
        return REASONS.get(self.kind, "FieldValueTypeInvalid")

    @property
    def body(self) -> str:
        """The message without the field, as in `details.causes[].message`."""
        if self.kind == "type":  # a wrong type shows the type it got, not the value
            return f"Invalid value: {shown(type_name(self.value))}: {self.detail}"
        if self.kind in ("Invalid value", "Unsupported value", "Duplicate value"):
            head = f"{self.kind}: {shown(self.value)}"
            return f"{head}: {self.detail}" if self.detail else head
        return f"{self.kind}: {self.detail}" if self.detail else self.kind

    def __str__(self) -> str:
        return f"{self.field or '<nil>'}: {self.body}"


class Invalid(Exception):
    """The object does not pass admission; `causes` lists every reason, one line each."""

    def __init__(self, errors: list[FieldError]):
        self.errors = list(errors)
        self.causes = [str(e) for e in self.errors]
        super().__init__("; ".join(self.causes))

    def __str__(self) -> str:
        return "invalid object:\n" + "\n".join(f"- {cause}" for cause in self.causes)
