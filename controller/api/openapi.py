"""What the control API's OpenAPI document declares besides its routes: the bearer scheme, and the
error answers every protected route can give, each a `{"detail": "..."}` body (422s included: they
are one line naming the field and the bound, not FastAPI's list of errors)."""

from fastapi.security import HTTPBearer
from pydantic import BaseModel

BEARER = HTTPBearer(
    auto_error=False,  # the token is checked by `auth.authenticate`, whose 401s say what is wrong
    description="A token from 'raynomaly controller token' (the admin token 'up' wrote by default).",
)


class ErrorBody(BaseModel):
    """Every error answer of the control API."""

    detail: str
    """What went wrong and what to do next."""


def _answer(text: str) -> dict:
    return {"model": ErrorBody, "description": text}


INVALID = {422: _answer("A parameter or the body is invalid; the detail names the field and bound.")}
PROTECTED = {
    401: _answer("No token, or one that is expired, forged, malformed or revoked."),
    403: _answer("The token's role is too weak for this route."),
    429: _answer("Over the client's rate limit; Retry-After says when to retry."),
    **INVALID,
}
CHANGING = {**PROTECTED, 409: _answer("The change conflicts with the current state; the detail says why.")}
