"""Request ids: one per request, taken from `x-request-id` or made up, carried through the gateway's
logs and spans and given back to the caller.

Serve's HTTP server (its proxy, and each replica's direct ingress) already puts `x-request-id` on
every request that lacks one and echoes it on every HTTP answer, errors included; the gateway reads
the same header, so its logs name the id the caller sees. The gateway echoes it on the WebSocket
handshake, which Serve does not, and on HTTP answers where it made the id up itself (nothing in
front of it did). gRPC calls carry it as `x-request-id` trailing metadata.
"""

import time
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

HEADER = "x-request-id"
SERVE_GRPC_KEY = "request_id"
"""The metadata key of Serve's own gRPC request id (asked for by the caller, or made up by Serve)."""
MAX_LENGTH = 128


@dataclass
class RequestFacts:
    """One request: its id, and what the gateway learns while answering it (for its logs)."""

    id: str
    model: str | None = None
    version: int | None = None
    started: float = field(default_factory=time.perf_counter)


_current: ContextVar[RequestFacts | None] = ContextVar("raynomaly_request", default=None)


def new_id() -> str:
    """A fresh request id: a random UUID's 32 hex digits."""
    return uuid.uuid4().hex


def usable(given: str | None) -> str | None:
    """A caller's id if it can name a request in logs: printable ASCII, at most 128 characters (pure)."""
    if given and len(given) <= MAX_LENGTH and given.isascii() and given.isprintable():
        return given
    return None


def current() -> RequestFacts | None:
    """The request being answered in this context, if any."""
    return _current.get()


def begin(request_id: str) -> Token:
    """Make `request_id` the current request (until `end`)."""
    return _current.set(RequestFacts(request_id))


def end(token: Token) -> None:
    _current.reset(token)


def note(model: str | None = None, version: int | None = None) -> None:
    """Remember the model and version of the current request (nothing outside a request)."""
    facts = _current.get()
    if facts is not None:
        facts.model = model if model is not None else facts.model
        facts.version = version if version is not None else facts.version


def for_grpc(grpc_context) -> str:
    """The id of a gRPC call (its `x-request-id` metadata, else Serve's request id, else a new
    one), set as the call's `x-request-id` trailing metadata (Serve keeps its own `request_id`
    entry next to it)."""
    metadata = dict(grpc_context.invocation_metadata() or ())
    serves = dict(grpc_context.trailing_metadata() or ())
    request_id = (
        usable(metadata.get(HEADER))
        or usable(serves.get(SERVE_GRPC_KEY))
        or usable(metadata.get(SERVE_GRPC_KEY))
        or new_id()
    )
    grpc_context.set_trailing_metadata([(HEADER, request_id)])
    return request_id
