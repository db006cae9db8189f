"""The API verbs of the fake API server: what each request does, apart from HTTP itself.

Routes `/api/v1/...` and `/apis/{group}/{version}/...` to a served resource type, checks the bearer
token, the query parameters (those it does not implement are refused with 501 naming them) and the
body's identity, and runs get, list, watch, create, replace, patch and delete against the store.
"""

import base64
import dataclasses
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

from tests.kube import patches, selectors, status
from tests.kube.faults import Faults
from tests.kube.resources import Admit, ResourceType
from tests.kube.status import ApiError
from tests.kube.store import Event, Store

PARAMS = {
    "list": {
        "watch",
        "resourceVersion",
        "timeoutSeconds",
        "allowWatchBookmarks",
        "limit",
        "continue",
        "labelSelector",
        "fieldSelector",
        "pretty",
    },
    "get": {"resourceVersion", "pretty"},
    "write": {"fieldManager", "fieldValidation", "pretty"},
    "delete": {"gracePeriodSeconds", "propagationPolicy", "pretty"},
}
FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


@dataclass(frozen=True)
class Route:
    rt: ResourceType
    namespace: str | None  # None: the cluster-wide list of a namespaced resource
    name: str | None
    subresource: str | None


@dataclass(frozen=True)
class Response:
    code: int
    body: dict
    warnings: tuple[str, ...] = ()


def parse_query(raw: str) -> dict[str, str]:
    """The query parameters of a URL, the last value of each."""
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _json_object(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"null")
    except ValueError as e:
        raise ApiError(400, f"the request body is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def _field_validation(admit: Admit, mode: str) -> Admit:
    """`admit` under a `fieldValidation` mode: Strict refuses unknown fields (400), Ignore drops silently."""

    def checked(obj: dict, old: dict | None) -> tuple[dict, list[str]]:
        admitted, warnings = admit(obj, old)
        if mode == "Strict" and warnings:
            raise ApiError(400, "strict decoding error: " + ", ".join(warnings))
        return admitted, ([] if mode == "Ignore" else warnings)

    return checked


class Verbs:
    def __init__(self, types: dict, store: Store, faults: Faults, namespaces: tuple[str, ...], token: str):
        self._types, self._store, self._faults = types, store, faults
        self._namespaces, self._token = namespaces, token

    def authenticate(self, authorization: str | None) -> None:
        if not secrets.compare_digest(authorization or "", f"Bearer {self._token}"):
            raise ApiError(401, "Unauthorized")

    def route(self, path: str) -> Route:
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise status.unknown_resource()
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3 or (namespace is None and len(rest) > 1):
            raise status.unknown_resource()
        rt = self._types.get((group, version, rest[0]))
        subresource = rest[2] if len(rest) == 3 else None
        if rt is None or subresource not in (None, "status") or (subresource and not rt.status_subresource):
            raise status.unknown_resource()
        return Route(rt, namespace, rest[1] if len(rest) > 1 else None, subresource)

    def check_params(self, route: Route, method: str, query: dict[str, str]) -> None:
        """501 for query parameters this double does not implement (the real server would honour them)."""
        verb = {"GET": "get" if route.name else "list", "DELETE": "delete"}.get(method, "write")
        unknown = sorted(set(query) - PARAMS[verb])
        if unknown:
            raise ApiError(
                501,
                f"query parameter(s) {', '.join(unknown)} on {method} are not implemented by this "
                f"test double (it implements {', '.join(sorted(PARAMS[verb]))})",
            )
        for number in ("limit", "timeoutSeconds", "gracePeriodSeconds"):
            if not query.get(number, "0").isdigit():
                raise ApiError(400, f"{number} must be a whole number of 0 or more, not {query[number]!r}")
        if query.get("fieldValidation", "Warn") not in FIELD_VALIDATION:
            raise ApiError(400, f"fieldValidation must be one of {', '.join(FIELD_VALIDATION)}")
        if query.get("propagationPolicy", "Background") != "Background":
            raise ApiError(
                501,
                f"propagationPolicy={query['propagationPolicy']} needs the garbage collector, "
                "which this test double lacks; use Background",
            )

    def respond(
        self, method: str, route: Route, query: dict[str, str], content_type: str, raw: bytes
    ) -> Response:
        """The response to every request but a watch."""
        rt, name = route.rt, route.name
        if method in ("PUT", "PATCH") and name and self._faults.take("conflict", rt.plural):
            raise status.conflict(rt, name)
        if name is None:
            if method == "GET":
                return self._list(route, query)
            if method == "POST" and route.namespace is not None:
                return self._create(route, query, raw)
            if method == "DELETE" and route.namespace is not None:
                raise ApiError(501, "deleting a collection is not implemented by this test double")
        elif method == "GET":
            return Response(200, self._store.get(rt, route.namespace, name))
        elif method in ("PUT", "PATCH"):
            return self._update(method, route, query, content_type, raw)
        elif method == "DELETE" and route.subresource is None:
            return self._delete(route, raw)
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def _identity(self, route: Route, body: dict) -> dict:
        rt, meta = route.rt, body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        if not rt.custom:  # built-in kinds default apiVersion and kind from the URL, as typed decoders do
            body = {"apiVersion": rt.api_version, "kind": rt.kind, **body}
        if body.get("kind") != rt.kind or body.get("apiVersion") != rt.api_version:
            raise ApiError(
                400,
                f"the object is {body.get('apiVersion')!r} {body.get('kind')!r}; "
                f"{route.rt.qualified} takes apiVersion {rt.api_version!r}, kind {rt.kind!r}",
            )
        if meta.get("namespace") not in (None, "", route.namespace):
            raise ApiError(
                400, "the namespace of the provided object does not match the namespace sent on the request"
            )
        if route.name is not None and meta.get("name") != route.name:
            named, url = meta.get("name"), route.name
            raise ApiError(
                400, f"the name of the object ({named}) does not match the name on the URL ({url})"
            )
        return body

    def _admitting(self, route: Route, query: dict[str, str]) -> ResourceType:
        mode = query.get("fieldValidation", "Warn")
        return dataclasses.replace(route.rt, admit=_field_validation(route.rt.admit, mode))

    def _create(self, route: Route, query: dict[str, str], raw: bytes) -> Response:
        if route.subresource:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        body = self._identity(dataclasses.replace(route, name=None), _json_object(raw))
        if route.namespace not in self._namespaces:
            raise status.namespace_not_found(route.namespace)
        obj, warnings = self._store.create(self._admitting(route, query), route.namespace, body)
        return Response(201, obj, tuple(warnings))

    def _update(
        self, method: str, route: Route, query: dict[str, str], content_type: str, raw: bytes
    ) -> Response:
        body = self._identity(route, _json_object(raw)) if method == "PUT" else None

        def change(stored: dict) -> dict:
            """The object to write: the PUT body, or the stored object patched."""
            if body is not None:
                return body
            return self._identity(route, patches.apply(content_type, stored, raw, route.rt.custom))

        rt = self._admitting(route, query)
        obj, warnings = self._store.update(rt, route.namespace, route.name, change, route.subresource)
        return Response(200, obj, tuple(warnings))

    def _delete(self, route: Route, raw: bytes) -> Response:
        options = _json_object(raw) if raw.strip() else {}
        if options.get("propagationPolicy", "Background") != "Background" or options.get("orphanDependents"):
            raise ApiError(
                501, "Foreground and Orphan deletion need the garbage collector, which this test double lacks"
            )
        if options.get("dryRun"):
            raise ApiError(501, "dryRun is not implemented by this test double")
        obj = self._store.delete(route.rt, route.namespace, route.name, options.get("preconditions") or {})
        return Response(200, obj)

    def _matcher(self, query: dict[str, str]):
        by_label = (
            selectors.labels(query["labelSelector"]) if query.get("labelSelector") else selectors.everything
        )
        by_field = (
            selectors.fields(query["fieldSelector"]) if query.get("fieldSelector") else selectors.everything
        )
        return lambda obj: by_label(obj) and by_field(obj)

    def _list(self, route: Route, query: dict[str, str]) -> Response:
        matches = self._matcher(query)
        items, rv = self._store.objects(route.rt, route.namespace)
        items = [obj for obj in items if matches(obj)]
        meta = {"resourceVersion": rv}
        if query.get("continue"):
            try:
                start = json.loads(base64.urlsafe_b64decode(query["continue"]))["after"]
            except (ValueError, KeyError) as e:
                raise ApiError(
                    400, f"continue must be a token from a previous list's metadata.continue: {e}"
                ) from e
            items = [o for o in items if [o["metadata"]["namespace"], o["metadata"]["name"]] > start]
        limit = int(query.get("limit") or 0)
        if 0 < limit < len(items):
            last = items[limit - 1]["metadata"]
            token = {"after": [last["namespace"], last["name"]]}
            meta |= {
                "continue": base64.urlsafe_b64encode(json.dumps(token).encode()).decode(),
                "remainingItemCount": len(items) - limit,
            }
            items = items[:limit]
        kind = f"{route.rt.kind}List"
        return Response(
            200, {"apiVersion": route.rt.api_version, "kind": kind, "metadata": meta, "items": items}
        )

    def watch(self, route: Route, query: dict[str, str]) -> Iterator[dict]:
        """The events of a watch (checked now, streamed as iterated): ERROR 410 once the resourceVersion
        left the history; without one, ADDED for every existing object first."""
        matches = self._matcher(query)
        timeout = int(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        since = query.get("resourceVersion") or "0"
        if not since.isdigit():
            raise ApiError(
                400, f"resourceVersion must be a resourceVersion this server gave out, not {since!r}"
            )
        since = int(since) or None  # "0": from any state, i.e. the current one, listed as ADDED events
        return self._events(route, matches, since, None if timeout is None else time.monotonic() + timeout)

    def _events(self, route: Route, matches, since: int | None, deadline: float | None) -> Iterator[dict]:
        if since is None:
            items, rv = self._store.objects(route.rt, route.namespace)
            yield from ({"type": "ADDED", "object": obj} for obj in items if matches(obj))
            since = int(rv)
        while not self._store.closed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                events, since = self._store.events(since, remaining)
            except ApiError as e:
                yield {"type": "ERROR", "object": e.status()}
                return
            for event in events:
                shown = self._shown(route, event, matches)
                if shown is not None and not self._store.closed:
                    yield shown

    def _shown(self, route: Route, event: Event, matches) -> dict | None:
        """How a watch with these selectors sees `event`: objects that start matching are ADDED, those that
        stop are DELETED, as the real watch cache shows them."""
        rt = route.rt
        if event.type_key != (rt.group, rt.version, rt.plural):
            return None
        if route.namespace is not None and event.namespace != route.namespace:
            return None
        now, before = matches(event.object), event.previous is not None and matches(event.previous)
        kind = event.type
        if event.type == "MODIFIED" and now != before:
            kind = "ADDED" if now else "DELETED"
        return {"type": kind, "object": event.object} if (now or before) else None
