"""Who calls the control API, and how often: authentication, roles and the rate limit.

A request's token is verified once, by the rate limit (a verified token's subject is its bucket,
else the client's address, so credentials that do not verify, in any spelling, share their sender's
bucket). A request without a verified token is answered 401 right there, before its path, query or
body is read, unless it asks for a public path (health, readiness, the OpenAPI document and its
pages); the role check of its route reads that verdict from the request's state.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Security
from fastapi.responses import JSONResponse

from controller.api.errors import headers_of
from controller.api.openapi import BEARER
from runtime.tokens import Forbidden, Principal, Unauthorized, authenticate, require

if TYPE_CHECKING:
    from controller.api.app import Services

UNLIMITED = ("/health", "/ready")


def public_paths(app: FastAPI) -> frozenset[str]:
    """The paths anyone may ask for: health, readiness, and the OpenAPI document and its pages."""
    documents = (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    return frozenset([*UNLIMITED, *(path for path in documents if path)])


def address(request: Request) -> str:
    """The client's address (a proxy's X-Forwarded-For only where the service trusts that proxy)."""
    return request.client.host if request.client else "unknown"


def guard(app: FastAPI, services: "Services") -> tuple[Callable[..., Principal], ...]:
    """Install the rate limit and authentication on `app`; returns the dependencies that require the
    viewer, deployer and admin roles."""
    store = services.store
    public = public_paths(app)

    def identify(request: Request) -> Principal | Unauthorized:
        """The caller's principal, or why there is none (missing, bad or revoked token); once a request."""
        if not hasattr(request.state, "principal"):
            try:
                who = authenticate(services.secret, request.headers.get("authorization"))
                if store.revoked(who.jti):
                    raise Unauthorized(f"the token {who.jti} was revoked; ask an admin for a new one")
                request.state.principal = who
            except Unauthorized as refused:
                request.state.principal = refused
        return request.state.principal

    def principal(role: str) -> Callable[..., Principal]:
        def check(request: Request, _=Security(BEARER)) -> Principal:
            who = identify(request)
            if isinstance(who, Unauthorized):
                raise who
            try:
                require(who, role)
            except Forbidden:
                store.record_action(who.subject, "denied", None, {"path": request.url.path, "needs": role})
                raise
            return who

        return check

    def refuse(request: Request, why: Unauthorized) -> JSONResponse:
        """The 401 of a request without a verified token, noted in the audit log (bounded)."""
        count = services.refusals.note(address(request), services.clock())
        if count is not None:
            detail = {"address": address(request), "path": request.url.path,
                      "reason": str(why)[:200], "refusals": count}  # fmt: skip
            store.record_action("anonymous", "unauthorized", None, detail)
        return JSONResponse({"detail": str(why)}, status_code=401, headers=headers_of(401))

    @app.middleware("http")
    async def admit(request: Request, call_next):
        if request.url.path not in UNLIMITED:
            who = identify(request)
            key = f"address:{address(request)}" if isinstance(who, Unauthorized) else f"subject:{who.subject}"
            wait = services.limiter.take(key)
            if wait is not None:
                limit = f"rate limit of {services.limiter.rate:g} requests/s exceeded; retry in {wait:.1f} s"
                return JSONResponse(
                    {"detail": limit}, status_code=429, headers={"Retry-After": str(max(1, round(wait)))}
                )
            if isinstance(who, Unauthorized) and request.url.path not in public:
                return refuse(request, who)
        return await call_next(request)

    return principal("viewer"), principal("deployer"), principal("admin")
