"""The object store of the fake API server: what etcd and the generic registry do together.

Objects live under one lock with one global resourceVersion counter. Each write is one event in a
bounded history that watches read; older events are compacted away (a watch from before answers 410).
The registry's rules: the server owns uid, creationTimestamp, generation (bumped when anything but
metadata, and status where it is a subresource, changes) and resourceVersion; a write carrying a stale
resourceVersion is a Conflict; a write that changes nothing is not written; status is written only
through `/status` where that subresource exists; an object with finalizers is only marked deleted.
"""

import copy
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tests.kube import status
from tests.kube.fielderrors import FieldError, Invalid
from tests.kube.resources import ResourceType
from tests.kube.status import ApiError

TypeKey = tuple[str, str, str]  # (group, version, plural)
SERVER_OWNED = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(rt: ResourceType) -> TypeKey:
    return (rt.group, rt.version, rt.plural)


def _content(obj: dict, rt: ResourceType) -> dict:
    """What generation tracks: everything but metadata (and status, where it is a subresource)."""
    ignored = ("metadata", "status") if rt.status_subresource else ("metadata",)
    return {k: v for k, v in obj.items() if k not in ignored}


def _at(obj: dict, path: str):
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


@dataclass(frozen=True)
class Event:
    rv: int
    type_key: TypeKey
    namespace: str
    type: str  # ADDED, MODIFIED or DELETED
    object: dict
    previous: dict | None  # the object before a MODIFIED, for selectors that stop or start matching


class Store:
    def __init__(self, history: int):
        self._changed = threading.Condition()
        self._objects: dict[TypeKey, dict[tuple[str, str], dict]] = {}
        self._rv = 0
        self._events: deque[Event] = deque(maxlen=history)
        self._compacted = 0  # the newest resourceVersion whose event left the history
        self.closed = False

    def _record(self, rt: ResourceType, kind: str, obj: dict, previous: dict | None) -> None:
        if len(self._events) == self._events.maxlen:
            self._compacted = self._events[0].rv
        ns = obj["metadata"]["namespace"]
        self._events.append(Event(self._rv, _key(rt), ns, kind, copy.deepcopy(obj), previous))
        self._changed.notify_all()

    def _admit(self, rt: ResourceType, obj: dict, old: dict | None) -> tuple[dict, list[str]]:
        try:
            return rt.admit(obj, old)
        except Invalid as e:
            raise status.invalid(rt, obj["metadata"].get("name", ""), e.errors) from e

    def resource_version(self) -> str:
        with self._changed:
            return str(self._rv)

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict:
        with self._changed:
            obj = self._objects.get(_key(rt), {}).get((namespace, name))
            if obj is None:
                raise status.not_found(rt, name)
            return copy.deepcopy(obj)

    def objects(self, rt: ResourceType, namespace: str | None) -> tuple[list[dict], str]:
        """The objects of one namespace (or all) in etcd's key order, and the resourceVersion they are at."""
        with self._changed:
            objects = self._objects.get(_key(rt), {})
            keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
            return [copy.deepcopy(objects[k]) for k in keys], str(self._rv)

    def create(self, rt: ResourceType, namespace: str, body: dict) -> tuple[dict, list[str]]:
        meta = dict(body.get("metadata") or {})
        if meta.get("resourceVersion"):  # the real server answers a bare 500 here too
            raise ApiError(500, "resourceVersion should not be set on objects to be created", reason="")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5)
            )
        for owned in (*SERVER_OWNED, "managedFields", "selfLink"):
            meta.pop(owned, None)
        meta |= {"namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": _now()}
        if rt.tracks_generation:
            meta["generation"] = 1
        obj = {**body, "metadata": meta}
        if rt.status_subresource:
            obj.pop("status", None)  # status is written through /status only
        with self._changed:
            obj, warnings = self._admit(rt, obj, None)
            objects = self._objects.setdefault(_key(rt), {})
            if (namespace, meta.get("name")) in objects:
                raise status.already_exists(rt, meta["name"])
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            objects[(namespace, meta["name"])] = obj
            self._record(rt, "ADDED", obj, None)
            return copy.deepcopy(obj), warnings

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[dict], dict],
        subresource: str | None,
    ) -> tuple[dict, list[str]]:
        """Write `change(stored object)`: the body of a PUT, or the patched object of a PATCH."""
        with self._changed:
            old = self._objects.get(_key(rt), {}).get((namespace, name))
            if old is None:
                raise status.not_found(rt, name)
            new = change(copy.deepcopy(old))
            meta = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
            if meta.get("resourceVersion") not in (None, "", old["metadata"]["resourceVersion"]):
                raise status.conflict(rt, name)
            if meta.get("uid") not in (None, "", old["metadata"]["uid"]):
                error = FieldError("metadata.uid", "Invalid value", "field is immutable", meta["uid"])
                raise status.invalid(rt, name, [error])
            candidate = self._candidate(rt, old, new, meta, subresource)
            obj, warnings = self._admit(rt, candidate, old)
            self._check_immutable(rt, old, obj)
            if rt.tracks_generation and _content(obj, rt) != _content(old, rt):
                obj["metadata"]["generation"] = old["metadata"]["generation"] + 1
            if obj == old:  # nothing changed: nothing is written, no new resourceVersion, no event
                return copy.deepcopy(old), warnings
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
                del self._objects[_key(rt)][(namespace, name)]  # the last finalizer went: deletion completes
                self._record(rt, "DELETED", obj, None)
            else:
                self._objects[_key(rt)][(namespace, name)] = obj
                self._record(rt, "MODIFIED", obj, copy.deepcopy(old))
            return copy.deepcopy(obj), warnings

    def _candidate(self, rt: ResourceType, old: dict, new: dict, meta: dict, subresource: str | None) -> dict:
        if subresource == "status":  # only status changes; everything else stays as stored
            candidate = copy.deepcopy(old)
            candidate.pop("status", None)
            if "status" in new:
                candidate["status"] = new["status"]
            return candidate
        kept = {k: old["metadata"][k] for k in (*SERVER_OWNED, "namespace", "name") if k in old["metadata"]}
        added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
        if old["metadata"].get("deletionTimestamp") and added:
            detail = "no new finalizers can be added if the object is being deleted"
            error = FieldError("metadata.finalizers", "Forbidden", detail)
            raise status.invalid(rt, old["metadata"]["name"], [error])
        meta = {k: v for k, v in meta.items() if k not in (*SERVER_OWNED, "managedFields", "selfLink")}
        candidate = {
            **new,
            "metadata": {**meta, **kept, "resourceVersion": old["metadata"]["resourceVersion"]},
        }
        if rt.status_subresource:  # status is written through /status only
            candidate.pop("status", None)
            if "status" in old:
                candidate["status"] = old["status"]
        return candidate

    def _check_immutable(self, rt: ResourceType, old: dict, obj: dict) -> None:
        errors = [
            FieldError(path, "Invalid value", "field is immutable", _at(obj, path))
            for path in rt.immutable
            if _at(obj, path) != _at(old, path)
        ]
        if errors:
            raise status.invalid(rt, old["metadata"]["name"], errors)

    def delete(self, rt: ResourceType, namespace: str, name: str, preconditions: dict) -> dict:
        """Delete, or with finalizers mark deleted (deletionTimestamp) and leave it to their owners."""
        with self._changed:
            old = self._objects.get(_key(rt), {}).get((namespace, name))
            if old is None:
                raise status.not_found(rt, name)
            for field in ("uid", "resourceVersion"):
                wanted = preconditions.get(field)
                if wanted and wanted != old["metadata"][field]:
                    message = (
                        f"Precondition failed: {field[0].upper() + field[1:]} in precondition: {wanted}, "
                        f"{field} in object meta: {old['metadata'][field]}"
                    )
                    raise ApiError(409, message, details={"name": name, "kind": rt.plural})
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(old)
                obj = copy.deepcopy(old)
                obj["metadata"] |= {"deletionTimestamp": _now(), "deletionGracePeriodSeconds": 0}
                if rt.tracks_generation:
                    obj["metadata"]["generation"] += 1
                self._rv += 1
                obj["metadata"]["resourceVersion"] = str(self._rv)
                self._objects[_key(rt)][(namespace, name)] = obj
                self._record(rt, "MODIFIED", obj, copy.deepcopy(old))
                return copy.deepcopy(obj)
            del self._objects[_key(rt)][(namespace, name)]
            self._rv += 1
            obj = copy.deepcopy(old)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._record(rt, "DELETED", obj, None)
            return obj

    def events(self, after: int, timeout_s: float | None) -> tuple[list[Event], int]:
        """The events newer than resourceVersion `after`, waiting up to `timeout_s` for one (None: until
        closed); and the resourceVersion they reach. Raises 410 Expired once `after` left the history."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._changed:
            while not self.closed and self._rv <= after:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._changed.wait(remaining)
            if after < self._compacted:
                oldest = self._events[0].rv if self._events else self._rv
                raise ApiError(410, f"too old resource version: {after} ({oldest})", "Expired")
            return [e for e in self._events if e.rv > after], max(after, self._rv)

    def close(self) -> None:
        """End every watch: waiting ones return at once."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()
