"""Structural schemas: what the API server does to a custom object before it validates it.

Pure functions over a CRD's `openAPIV3Schema`, after apiextensions-apiserver: nulls of fields that are
neither nullable nor defaulted are dropped, fields the schema does not declare are pruned (and named, for
the `Warning` header), `default:` values fill absent fields, and `x-kubernetes-list-type` lists must
not repeat an item (set) or a key (map). Values are walked beside their schemas and, for CEL transition
rules, beside the stored value they correspond to.
"""

import copy
from collections.abc import Iterator
from typing import Any

from tests.kube.fielderrors import FieldError, join, shown

# The fields of ObjectMeta: an object's own `metadata` keeps these and nothing else.
OBJECT_META = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def child_schema(schema: dict, key: str | int) -> dict | None:
    """The schema of `key` inside a value of `schema`; None where the schema does not declare it."""
    if isinstance(key, int):
        return schema.get("items")
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def drop_nulls(value: Any, schema: dict) -> Any:
    """`value` without null properties that are neither `nullable` nor defaulted (defaulting fills those)."""
    if isinstance(value, dict):
        kept = {}
        for key, child in value.items():
            sub = child_schema(schema, key)
            declared = key in schema.get("properties", {})
            if child is None and declared and not sub.get("nullable") and "default" not in sub:
                continue
            kept[key] = drop_nulls(child, sub) if sub is not None else child
        return kept
    if isinstance(value, list):
        return [drop_nulls(item, schema.get("items") or {}) for item in value]
    return value


def prune(value: Any, schema: dict | None, path: str, pruned: list[str]) -> Any:
    """`value` without the fields `schema` does not declare; their paths are appended to `pruned`."""
    if schema is None:
        return value
    if isinstance(value, dict):
        keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields", False)
        kept = {}
        for key, child in value.items():
            sub = child_schema(schema, key)
            if sub is None and not keep_unknown:
                pruned.append(join(path, key))
                continue
            kept[key] = prune(child, sub, join(path, key), pruned)
        return kept
    if isinstance(value, list):
        return [prune(item, schema.get("items"), join(path, i), pruned) for i, item in enumerate(value)]
    return value


def prune_object(obj: dict, schema: dict, pruned: list[str]) -> dict:
    """A whole object pruned: its own `metadata` keeps the ObjectMeta fields, the rest follows `schema`."""
    meta = obj.get("metadata")
    body = prune({k: v for k, v in obj.items() if k != "metadata"}, schema, "", pruned)
    if isinstance(meta, dict):
        pruned.extend(join("metadata", k) for k in meta if k not in OBJECT_META)
        # null ObjectMeta fields decode as absent ones
        body["metadata"] = {k: v for k, v in meta.items() if k in OBJECT_META and v is not None}
    elif "metadata" in obj:
        body["metadata"] = meta
    return body


def apply_defaults(value: Any, schema: dict) -> None:
    """Fill absent (or null) fields that declare a `default:`, in place, in every present object."""
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if "default" in sub and value.get(key) is None:
                value[key] = copy.deepcopy(sub["default"])
        for key, child in value.items():
            sub = child_schema(schema, key)
            if sub is None:
                continue
            if child is None and "default" in sub:
                value[key] = child = copy.deepcopy(sub["default"])
            apply_defaults(child, sub)
    elif isinstance(value, list):
        items = schema.get("items") or {}
        for i, item in enumerate(value):
            if item is None and "default" in items:
                value[i] = item = copy.deepcopy(items["default"])
            apply_defaults(item, items)


def _list_key(item: Any, schema: dict) -> Any:
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if schema.get("x-kubernetes-list-type") == "map" and isinstance(item, dict):
        return {k: item.get(k) for k in keys}
    return item


def walk(value: Any, old: Any, schema: dict, path: str = "") -> Iterator[tuple[Any, Any, dict, str]]:
    """Every (value, old value, schema, path) below and including `value`, depth first.

    `old` is the stored value at the same place, None where there is none: object fields and map
    entries correspond by key, `x-kubernetes-list-type: map` items by their keys, other list items never
    (as in Kubernetes, whose transition rules skip values without a counterpart).
    """
    yield value, old, schema, path
    if isinstance(value, dict):
        for key, child in value.items():
            sub = child_schema(schema, key)
            if sub is not None:
                before = old.get(key) if isinstance(old, dict) else None
                yield from walk(child, before, sub, join(path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        by_key = {}
        if schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            by_key = {shown(_list_key(item, schema)): item for item in old}
        for i, item in enumerate(value):
            yield from walk(item, by_key.get(shown(_list_key(item, schema))), schema["items"], join(path, i))


def duplicates(value: Any, schema: dict) -> list[FieldError]:
    """Items repeated in `x-kubernetes-list-type: set` lists, keys repeated in `map` lists."""
    errors = []
    for node, _, sub, path in walk(value, None, schema):
        if not isinstance(node, list) or sub.get("x-kubernetes-list-type") not in ("set", "map"):
            continue
        seen = set()
        for i, item in enumerate(node):
            key = shown(_list_key(item, sub))
            if key in seen:
                errors.append(FieldError(join(path, i), "Duplicate value", value=_list_key(item, sub)))
            seen.add(key)
    return errors
