"""Bearer tokens: HS256 JWTs carrying a subject and a role (viewer < deployer < admin).

`up` creates the signing secret and an admin token, both 0600; other tokens are minted from the
secret (`raynomaly controller token`). Expired, forged or malformed tokens are all 401.
"""

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

ROLES = {"viewer": 0, "deployer": 1, "admin": 2}
ISSUER = "raynomaly"
ALGORITHM = "HS256"


class Unauthorized(Exception):
    """No token, or one that does not verify (401)."""


class Forbidden(Exception):
    """A valid token whose role is too weak (403)."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by the owner only (created 0600, never world-readable in between)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    temporary.replace(path)


def ensure_secret(path: Path) -> str:
    """The signing secret, created (256 random bits, 0600) if missing."""
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip()


def mint(secret: str, subject: str, role: str, ttl_s: float, now: float | None = None) -> str:
    """A signed token for `subject` with `role`, valid for `ttl_s` seconds."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    issued = int(now if now is not None else time.time())
    claims = {"sub": subject, "role": role, "iss": ISSUER, "iat": issued, "exp": issued + int(ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def authenticate(secret: str, header: str | None) -> Principal:
    """The principal of an `Authorization: Bearer <token>` header; Unauthorized saying why not."""
    if not header:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(
            "the token has expired; mint a new one with 'raynomaly controller token'"
        ) from None
    except jwt.InvalidTokenError as e:
        raise Unauthorized(f"the token is not valid ({e})") from None
    if claims.get("role") not in ROLES:
        raise Unauthorized(f"the token's role {claims.get('role')!r} is not one of {', '.join(ROLES)}")
    return Principal(claims["sub"], claims["role"])


def require(principal: Principal, role: str) -> None:
    """Forbidden unless the principal's role is at least `role`."""
    if ROLES[principal.role] < ROLES[role]:
        raise Forbidden(f"{principal.subject} is a {principal.role}; this needs the {role} role or higher")
