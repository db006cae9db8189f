"""OpenAPI v3 validation of custom objects, answered with the field errors the API server gives.

The CRD schema is translated once into a JSON Schema (draft 4, whose boolean `exclusiveMinimum` is
OpenAPI 3.0's): `nullable` admits null, `x-kubernetes-int-or-string` admits an integer or a string,
`format` int32/int64/date-time is checked. Then every jsonschema error becomes one `FieldError`.
"""

import re
from collections.abc import Iterable
from typing import Any

import jsonschema

from tests.kube.fielderrors import FieldError, join, shown, type_name

KEYWORDS = frozenset(
    {
        "type",
        "required",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "multipleOf",
        "format",
    }
)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
FORMATS = jsonschema.FormatChecker(formats=())


def _integer_within(bits: int):
    def check(value: Any) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            return True  # formats constrain only values of their type
        return -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)

    return check


FORMATS.checks("int32")(_integer_within(32))
FORMATS.checks("int64")(_integer_within(64))
FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or bool(RFC3339.match(value)))


def to_jsonschema(node: dict) -> dict:
    """The JSON Schema (draft 4) that checks what the structural schema `node` declares."""
    out: dict = {k: v for k, v in node.items() if k in KEYWORDS}
    if "properties" in node:
        out["properties"] = {name: to_jsonschema(sub) for name, sub in node["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            out[key] = to_jsonschema(node[key])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in node:
            out[key] = [to_jsonschema(sub) for sub in node[key]]
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def validator(schema: dict) -> jsonschema.Draft4Validator:
    """A validator of whole objects against the CRD's `openAPIV3Schema`."""
    # No check_schema: the translation emits draft-4 keywords only, and checking takes a second per CRD.
    return jsonschema.Draft4Validator(to_jsonschema(schema), format_checker=FORMATS)


def _path(error: jsonschema.ValidationError) -> str:
    path = ""
    for key in error.absolute_path:
        path = join(path, key)
    return path


def _or_equal(error: jsonschema.ValidationError, exclusive: str) -> str:
    return "" if error.schema.get(exclusive) else "or equal to "


def _field_errors(error: jsonschema.ValidationError) -> Iterable[FieldError]:
    field, value, rule, expected = _path(error), error.instance, error.validator, error.validator_value
    where = f"{field} in body"
    if rule == "required":
        missing = [name for name in expected if not isinstance(value, dict) or name not in value]
        return [FieldError(join(field, name), "Required value") for name in missing]
    if rule == "type":
        types = expected if isinstance(expected, list) else [expected]
        detail = f"{where} must be of type {' or '.join(types)}: {shown(type_name(value))}"
        return [FieldError(field, "type", detail, value)]
    if rule in ("anyOf", "oneOf") and all(set(sub) == {"type"} for sub in expected):
        types = " or ".join(sub["type"] for sub in expected)
        return [
            FieldError(field, "type", f"{where} must be of type {types}: {shown(type_name(value))}", value)
        ]
    if rule == "enum":
        supported = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in expected)
        return [FieldError(field, "Unsupported value", f"supported values: {supported}", value)]
    if rule == "maxLength":
        return [FieldError(field, "Too long", f"may not be more than {expected} bytes", value)]
    if rule == "maxItems":
        return [FieldError(field, "Too many", f"{len(value)}: must have at most {expected} items", value)]
    details = {
        "pattern": f"should match '{expected}'",
        "minimum": f"should be greater than {_or_equal(error, 'exclusiveMinimum')}{expected}",
        "maximum": f"should be less than {_or_equal(error, 'exclusiveMaximum')}{expected}",
        "minLength": f"should be at least {expected} chars long",
        "minItems": f"should have at least {expected} items",
        "format": f"must be of type {expected}: {shown(value)}",
    }
    detail = details.get(rule, error.message)
    return [FieldError(field, "Invalid value", f"{where} {detail}" if rule in details else detail, value)]


def errors(check: jsonschema.Draft4Validator, obj: dict) -> list[FieldError]:
    """Every schema violation of `obj`, once each, in field order."""
    found: dict[str, FieldError] = {}
    for error in check.iter_errors(obj):
        for field_error in _field_errors(error):
            found.setdefault(str(field_error), field_error)
    return sorted(found.values(), key=lambda e: e.field)
