"""PATCH bodies: the patch types the API server applies, and those this double refuses.

JSON merge patches (RFC 7386) and JSON patches (RFC 6902) are applied, with the server's errors (400 for
a body that does not parse, 422 for a patch that does not apply, e.g. a failing `test`). A strategic
merge patch on a custom resource is refused with 415, as the real server refuses it; on a built-in kind
it, like server-side apply, is 501: the real server would apply it, this double does not.
"""

import copy
import json
from typing import Any

import jsonpatch
import jsonpointer

from tests.kube.status import ApiError

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = ("application/apply-patch+yaml", "application/apply-patch+cbor")
REJECTED = "the server rejected our request due to an error in our request"


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def _json_patch(current: dict, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise ApiError(
            400, f"a JSON patch ({JSON_PATCH}) is a list of operations, not {type(operations).__name__}"
        )
    try:
        return jsonpatch.JsonPatch(operations).apply(current)
    except jsonpatch.InvalidJsonPatch as e:
        raise ApiError(400, f"invalid JSON patch: {e}") from e
    except (
        jsonpatch.JsonPatchConflict,
        jsonpatch.JsonPatchTestFailed,
        jsonpointer.JsonPointerException,
    ) as e:
        cause = {"reason": "UnexpectedServerResponse", "message": str(e)}  # where the real server says why
        raise ApiError(422, REJECTED, details={"causes": [cause]}) from e


def apply(content_type: str, current: dict, body: bytes, custom: bool) -> dict:
    """The object `current` becomes under the patch `body` sent as `content_type`."""
    media = content_type.split(";")[0].strip().lower()
    if media == STRATEGIC and custom:
        accepted = f"{JSON_PATCH}, {MERGE}, {APPLY[0]}, {APPLY[1]}"
        message = (
            f"the body of the request was in an unknown format - accepted media types include: {accepted}"
        )
        raise ApiError(415, message)
    if media == STRATEGIC or media in APPLY:
        raise ApiError(
            501, f"{media} patches are not implemented by this test double; send {MERGE} or {JSON_PATCH}"
        )
    if media not in (MERGE, JSON_PATCH):
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{JSON_PATCH}, {MERGE}",
        )
    try:
        patch = json.loads(body or b"null")
    except ValueError as e:
        raise ApiError(400, f"the patch is not JSON: {e}") from e
    patched = merge(current, patch) if media == MERGE else _json_patch(current, patch)
    if not isinstance(patched, dict):
        raise ApiError(400, f"the patched object is a {type(patched).__name__}, not an object")
    return patched
