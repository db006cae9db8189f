"""Kubernetes `Status` bodies: every error the fake API server answers, worded as the real one words it."""

from tests.kube.fielderrors import FieldError
from tests.kube.resources import ResourceType

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    501: "NotImplemented",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An error response: HTTP `code`, the Status `reason`, `message` and `details`."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        self.reason = REASONS.get(code, "") if reason is None else reason

    def status(self) -> dict:
        """The `kind: Status` body."""
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:  # an unclassified error has none, as in Kubernetes (StatusReasonUnknown)
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt: ResourceType, name: str) -> dict:
    return (
        {"name": name, "group": rt.group, "kind": rt.plural}
        if rt.group
        else {"name": name, "kind": rt.plural}
    )


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, f'{rt.qualified} "{name}" not found', details=_details(rt, name))


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(
        404, f'namespaces "{namespace}" not found', details={"name": namespace, "kind": "namespaces"}
    )


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, f'{rt.qualified} "{name}" already exists', "AlreadyExists", _details(rt, name))


def conflict(rt: ResourceType, name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(409, message, details=_details(rt, name))


def invalid(rt: ResourceType, name: str, errors: list[FieldError]) -> ApiError:
    listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    causes = [{"reason": e.reason, "message": e.body, "field": e.field} for e in errors]
    details = {**_details(rt, name), "kind": rt.kind, "causes": causes}
    return ApiError(422, f'{kind} "{name}" is invalid: {listed}', details=details)


def unknown_resource() -> ApiError:
    """What a server without the resource answers (a CRD not installed, a group not served)."""
    return ApiError(404, "the server could not find the requested resource", details={})
