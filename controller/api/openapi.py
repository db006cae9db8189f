"""What the control API's OpenAPI document declares besides its routes: the bearer scheme, and the
error answers its routes can give, each a `{"detail": "..."}` body (422s included: they are one
line naming the field and the bound, not FastAPI's list of errors)."""

from fastapi.security import HTTPBearer
from pydantic import BaseModel

BEARER = HTTPBearer(
    auto_error=False,  # the token is checked by `auth.authenticate`, whose 401s say what is wrong
    description="A token from 'raynomaly controller token' (the admin token 'up' wrote by default).",
)


LARGEST = 2**63 - 1
"""SQLite's largest integer: the bound of every number a route stores or looks up (a version, an
audit entry, a page's start), so a bigger one is a 422, not an overflow."""


class ErrorBody(BaseModel):
    """Every error answer of the control API."""

    detail: str
    """What went wrong and what to do next."""


def _answer(text: str) -> dict:
    return {"model": ErrorBody, "description": text}


class StatusBody(BaseModel):
    """The answer of `/ready`."""

    status: str
    """`ready`, or what is not."""


INVALID = {422: _answer("A parameter or the body is invalid; the detail names the field and bound.")}
UNREADABLE = {400: _answer("The body is not JSON text (not UTF-8, say); send a JSON object.")}
MISSING = {404: _answer("No such model, version or rollout; the detail says how to list them.")}
TAMPERED = {409: _answer("A version's manifest does not verify (edited, or signed by an unknown key).")}
UNAVAILABLE = {
    503: _answer("The target or the model store did not answer; retry, or check 'raynomaly status'.")
}
PROTECTED = {
    401: _answer("No token, or one that is expired, forged, malformed or revoked."),
    403: _answer("The token's role is too weak for this route."),
    429: _answer("Over the client's rate limit; Retry-After says when to retry."),
    **INVALID,
}
PROMETHEUS = {
    200: {
        "description": "Prometheus's text format.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}
CHANGING = {**PROTECTED, 409: _answer("The change conflicts with the current state; the detail says why.")}
