"""Serving errors, and the one table that maps them to HTTP and gRPC status codes.

A client's mistake is a 4xx (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNAUTHENTICATED,
PERMISSION_DENIED), never a 500.
"""

import traceback
from pathlib import Path

import grpc

from models.errors import InvalidInput
from runtime.tokens import Forbidden, Unauthorized


class ServingError(Exception):
    """Base: the request cannot be answered; the message names the problem."""


class BadRequest(ServingError):
    """Malformed body, wrong feature count, non-finite values."""


class UnknownModel(ServingError):
    """No traffic is configured for the model."""


class VersionNotDeployed(ServingError):
    """A pinned version is not deployed for the model."""


class TooLarge(ServingError):
    """Body or row count over the gateway's limits."""


class NotReady(ServingError):
    """The routed version is still loading (or failed to)."""


class Overloaded(ServingError):
    """Queues are full; retry later."""


class RateLimited(ServingError):
    """The client sent more than its rate; it may retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


STATUS: dict[type[Exception], tuple[int, grpc.StatusCode]] = {
    BadRequest: (400, grpc.StatusCode.INVALID_ARGUMENT),
    InvalidInput: (400, grpc.StatusCode.INVALID_ARGUMENT),
    UnknownModel: (404, grpc.StatusCode.NOT_FOUND),
    VersionNotDeployed: (404, grpc.StatusCode.NOT_FOUND),
    TooLarge: (413, grpc.StatusCode.RESOURCE_EXHAUSTED),
    Unauthorized: (401, grpc.StatusCode.UNAUTHENTICATED),
    Forbidden: (403, grpc.StatusCode.PERMISSION_DENIED),
    RateLimited: (429, grpc.StatusCode.RESOURCE_EXHAUSTED),
    NotReady: (503, grpc.StatusCode.UNAVAILABLE),
    Overloaded: (503, grpc.StatusCode.RESOURCE_EXHAUSTED),
}
SERVER_ERROR = (500, grpc.StatusCode.INTERNAL)
ANSWERED = (ServingError, InvalidInput, Unauthorized, Forbidden)
"""Errors whose message is the answer (a status of `STATUS`); anything else is a server error."""


def _codes(error: Exception) -> tuple[int, grpc.StatusCode]:
    """(HTTP status, gRPC code) of an error; anything unexpected is a server error."""
    return next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), SERVER_ERROR)


def http_status(error: Exception) -> int:
    """The HTTP status of an error (a 4xx is the client's mistake); unexpected ones are 500."""
    return _codes(error)[0]


def grpc_code(error: Exception) -> grpc.StatusCode:
    """The gRPC status code of an error; unexpected ones are INTERNAL."""
    return _codes(error)[1]


def unquoted(error: BaseException) -> str:
    """How a request's unexpected failure is logged: its kind and where it was raised, never its
    message, which may quote the request's rows (the caller is answered with the message; no
    request data is ever written to the logs)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{type(error).__name__}{where}"
