"""Bearer tokens: HS256 JWTs carrying a subject, a role (client < viewer < deployer < approver <
admin) and an id (`jti`) by which the token can be revoked.

One secret signs the tokens of both planes: the control API (viewer and up) and inference at the
gateway (any role; a `client` may only score). A token may name the models it may score (`models`)
and its own request rate (`rate`, requests/s) at the gateway. `up` creates the signing secret and
an admin token, both 0600; other tokens are minted from the secret (`raynomaly controller token`),
for at most `MAX_TTL_S`. Expired, forged, malformed or revoked tokens are all 401.
"""

import math
import re
import secrets
import time
from dataclasses import dataclass

import jwt

ROLES = {"client": 0, "viewer": 1, "deployer": 2, "approver": 3, "admin": 4}
ISSUER = "raynomaly"
ALGORITHM = "HS256"
MAX_TTL_S = 90 * 24 * 3600
"""The longest a token lives: a leaked token expires by itself within this (revoke it sooner)."""
MAX_RATE = 1e6
TOKEN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Unauthorized(Exception):
    """No token, or one that does not verify (401)."""


class Forbidden(Exception):
    """A valid token whose role is too weak (403)."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    jti: str
    """The token's id: what `raynomaly controller token revoke` takes."""
    models: tuple[str, ...] | None = None
    """The models this token may score at the gateway; None: every model."""
    rate: float | None = None
    """Its own requests/s at the gateway; None: the gateway's default per client."""
    expires: float = math.inf


def mint(secret: str, subject: str, role: str, ttl_s: float, now: float | None = None, *,
         models: list[str] | None = None, rate: float | None = None) -> str:  # fmt: skip
    """A signed token for `subject` with `role` and a fresh id, valid for `ttl_s` seconds (at most
    `MAX_TTL_S`), limited to `models` and `rate` requests/s at the gateway when given; ValueError
    naming the bound."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not math.isfinite(ttl_s) or ttl_s > MAX_TTL_S:
        raise ValueError(
            f"a token lives at most {MAX_TTL_S // 86400} days ({MAX_TTL_S} s), not {ttl_s:g} s; "
            "mint a shorter one and mint again when it expires"
        )
    issued = int(now if now is not None else time.time())
    claims = {"sub": subject, "role": role, "iss": ISSUER, "iat": issued, "exp": issued + int(ttl_s),
              "jti": secrets.token_hex(8)}  # fmt: skip
    if models is not None:
        if not models:
            raise ValueError("a token limited to models names at least one; leave the limit out for all")
        claims["models"] = sorted(set(models))
    if rate is not None:
        if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
            raise ValueError(f"a token's rate is above 0 and at most {MAX_RATE:g} requests/s, not {rate:g}")
        claims["rate"] = float(rate)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def token_id(token: str) -> str:
    """The id of a token this controller minted (not verified: for showing it to its owner)."""
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def check_token_id(jti: str) -> str:
    """`jti` if it can be a token's id; ValueError saying where ids come from."""
    if not TOKEN_ID.fullmatch(jti):
        raise ValueError(f"token id {jti!r}: give the id printed when the token was minted")
    return jti


def authenticate(secret: str, header: str | None) -> Principal:
    """The principal of an `Authorization: Bearer <token>` header; Unauthorized saying why not."""
    if not header:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "jti"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(
            "the token has expired; mint a new one with 'raynomaly controller token'"
        ) from None
    except jwt.InvalidTokenError as e:
        raise Unauthorized(f"the token is not valid ({e})") from None
    role = claims.get("role")
    if not isinstance(role, str) or role not in ROLES:  # a list is unhashable: check the type first
        raise Unauthorized(f"the token's role {role!r} is not one of {', '.join(ROLES)}")
    models, rate = claims.get("models"), claims.get("rate")
    if models is not None and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        raise Unauthorized("the token's models claim must be a list of model names")
    number = isinstance(rate, int | float) and not isinstance(rate, bool)
    if rate is not None and not (number and 0 < rate <= MAX_RATE):
        raise Unauthorized(f"the token's rate claim must be a number of requests/s up to {MAX_RATE:g}")
    return Principal(claims["sub"], role, claims["jti"], tuple(models) if models is not None else None,
                     float(rate) if rate is not None else None, float(claims["exp"]))  # fmt: skip


def require(principal: Principal, role: str) -> None:
    """Forbidden unless the principal's role is at least `role`."""
    if ROLES[principal.role] < ROLES[role]:
        raise Forbidden(f"{principal.subject} is a {principal.role}; this needs the {role} role or higher")
