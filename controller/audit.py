"""The audit log: every action and automatic decision, each entry chained to the one before by an
HMAC-SHA256 under a key only the controller holds, so an edited, removed or reordered entry shows,
and so does a log re-chained by someone with the file but not the key (`verify`, pure).

Logs written by earlier releases were chained with a plain sha256; they are read as a *legacy*
prefix, reported as such (`legacy_until`), up to the first keyed entry; after it only keyed
entries verify.
"""

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: float
    actor: str
    """Who acted: a token's subject, or `controller` for automatic decisions."""
    action: str
    rollout: str | None
    detail: dict
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """The end of a verified prefix: its last entry's seq and MAC, whether the keyed chain has
    begun, and the last legacy (unkeyed) entry before it."""

    seq: int = 0
    hash: str = GENESIS
    keyed: bool = False
    legacy_until: int | None = None


@dataclass(frozen=True)
class Verification:
    broken_at: int | None
    """The seq of the first entry that breaks the chain, or None when it holds."""
    checkpoint: Checkpoint
    """Where the verified prefix ends (`verify` can go on from there)."""

    @property
    def legacy_until(self) -> int | None:
        return self.checkpoint.legacy_until


def _body(prev_hash: str, seq: int, ts: float, actor: str, action: str, rollout: str | None, detail: dict):
    body = json.dumps([seq, ts, actor, action, rollout, detail], sort_keys=True, separators=(",", ":"))
    return (prev_hash + body).encode()


def entry_mac(key: bytes, prev_hash: str, seq: int, ts: float, actor: str, action: str,
              rollout: str | None, detail: dict) -> str:  # fmt: skip
    """HMAC-SHA256 under `key` over the previous MAC and the entry's canonical JSON (pure)."""
    return hmac.new(
        key, _body(prev_hash, seq, ts, actor, action, rollout, detail), hashlib.sha256
    ).hexdigest()


def legacy_hash(prev_hash: str, seq: int, ts: float, actor: str, action: str,
                rollout: str | None, detail: dict) -> str:  # fmt: skip
    """The unkeyed sha256 chain of earlier releases (pure)."""
    return hashlib.sha256(_body(prev_hash, seq, ts, actor, action, rollout, detail)).hexdigest()


def is_keyed(entry: AuditEntry, key: bytes) -> bool:
    """Whether the entry's MAC is the keyed one over its own fields (pure)."""
    return hmac.compare_digest(entry.hash, entry_mac(key, entry.prev_hash, **_fields(entry)))


def verify(
    entries: list[AuditEntry], key: bytes, start: Checkpoint = Checkpoint(), final: bool = True
) -> Verification:
    """Check `entries`, the ones after `start`, in order (pure). A legacy entry verifies only before
    the first keyed one; a log whose last entry is legacy (`final`: `entries` reach the end of the
    log) is broken there, since a store that holds a key seals a legacy log with a keyed entry as
    it opens."""
    point = start
    for entry in entries:
        fields = _fields(entry)
        if entry.seq != point.seq + 1 or entry.prev_hash != point.hash:
            return Verification(entry.seq, point)
        if hmac.compare_digest(entry.hash, entry_mac(key, point.hash, **fields)):
            point = Checkpoint(entry.seq, entry.hash, True, point.legacy_until)
        elif not point.keyed and entry.hash == legacy_hash(point.hash, **fields):
            point = Checkpoint(entry.seq, entry.hash, False, entry.seq)
        else:
            return Verification(entry.seq, point)
    if final and point.seq and not point.keyed:
        return Verification(point.seq, start)
    return Verification(None, point)


def _fields(entry: AuditEntry) -> dict:
    return {k: v for k, v in asdict(entry).items() if k not in ("prev_hash", "hash")}
