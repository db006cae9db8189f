"""Who may score, and how often: bearer tokens and per-client quotas at the gateway.

The gateway verifies the same HS256 tokens as the control API (`runtime.tokens`), signed with the
secret in the file `Access.secret_file` names (`runtime.desired`), read by each replica: on this
machine the controller's secret, on Kubernetes a mounted Secret; the Serve config holds the path
only. Any role may score; a token that names `models` scores only those. Each client (a verified
token's subject) has a token bucket: its token's own `rate` claim, else the gateway's default. Each
gateway replica holds `1/share` of every bucket (`share` = the gateway's replicas), as the ingress
spreads a client's requests over them. Revoked token ids are read from `revoked_file` (one per line,
written by the controller), looked at no more than once a second. A verified token is remembered (a
bounded table) so a client's next request costs a lookup, not a signature check.
"""

import time
from collections.abc import Callable
from pathlib import Path

from runtime.desired import Access
from runtime.errors import RateLimited
from runtime.ratelimit import RateLimiter
from runtime.tokens import Forbidden, Principal, Unauthorized, authenticate

MAX_HEADER = 8192
"""Longer Authorization headers are refused before they are decoded."""


class Denylist:
    """The revoked token ids of a file, re-read when the file changes, looked at once a second."""

    def __init__(self, path: str, clock: Callable[[], float]):
        self._path, self._clock = Path(path), clock
        self._ids: frozenset[str] = frozenset()
        self._stamp: tuple[int, int, int] | None = None
        self._looked = -1.0

    def __contains__(self, jti: str) -> bool:
        now = self._clock()
        if now - self._looked >= 1.0 or self._looked < 0:
            self._looked = now
            self._reload()
        return jti in self._ids

    def _reload(self) -> None:
        try:
            found = self._path.stat()
            stamp = (found.st_ino, found.st_size, found.st_mtime_ns)  # the file is replaced whole
            if stamp != self._stamp:
                lines = self._path.read_text().splitlines()
                self._ids = frozenset(line.strip() for line in lines if line.strip())
                self._stamp = stamp
        except FileNotFoundError:
            self._ids, self._stamp = frozenset(), None


def read_secret(path: str) -> str:
    """The signing secret in `path`; OSError or ValueError naming the file and what to do."""
    secret = Path(path).read_text().strip()
    if not secret:
        raise ValueError(f"the token signing secret {path} is empty; 'raynomaly up' creates one")
    return secret


class Gatekeeper:
    """Authenticates, throttles and authorises one gateway replica's callers (`access` None: open)."""

    def __init__(self, access: Access | None, share: int = 1, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):  # fmt: skip
        self.access, self.share, self._wall = access, max(1, share), wall
        if access is None:
            return
        self._secret = read_secret(access.secret_file)
        self._revoked = Denylist(access.revoked_file, clock) if access.revoked_file else None
        self._limiter = RateLimiter(access.rate, access.burst, access.max_clients, clock)
        self._verified: dict[str, Principal] = {}

    def same(self, access: Access | None, share: int) -> bool:
        """Whether this gatekeeper already enforces `access` over `share` replicas (keep its buckets)."""
        return self.access == access and self.share == max(1, share)

    def authenticate(self, header: str | None) -> Principal | None:
        """The caller of an `Authorization` header (None when access is open); Unauthorized saying why."""
        if self.access is None:
            return None
        if header is not None and len(header) > MAX_HEADER:
            raise Unauthorized(f"the Authorization header is over {MAX_HEADER} characters")
        who = self._verified.get(header or "")
        if who is None:
            who = authenticate(self._secret, header)
            if len(self._verified) >= self.access.max_clients:
                self._verified.clear()
            self._verified[header or ""] = who
        if who.expires <= self._wall():
            del self._verified[header or ""]
            raise Unauthorized("the token has expired; mint a new one with 'raynomaly controller token'")
        if self._revoked is not None and who.jti in self._revoked:
            raise Unauthorized(f"the token {who.jti} was revoked; ask for a new one")
        return who

    def throttle(self, who: Principal | None) -> None:
        """Spend one request of the caller's quota; RateLimited with the seconds to wait."""
        if who is None:
            return
        rate = who.rate or self.access.rate
        burst = who.rate if who.rate else self.access.burst
        wait = self._limiter.take(who.subject, rate / self.share, max(1.0, burst / self.share))
        if wait is not None:
            raise RateLimited(
                f"{who.subject} is over its rate of {rate:g} requests/s; retry in {wait:.2f} s", wait
            )

    @staticmethod
    def allow(who: Principal | None, model: str) -> None:
        """Forbidden unless the caller's token may score `model`."""
        if who is not None and who.models is not None and model not in who.models:
            raise Forbidden(f"{who.subject}'s token may score {', '.join(who.models)}, not {model!r}")
