"""The audit log: every action and automatic decision, each entry hash-chained to the one before,
so an edited, removed or reordered entry shows (`verify`, pure)."""

import hashlib
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


def entry_hash(
    prev_hash: str, seq: int, ts: float, actor: str, action: str, rollout: str | None, detail: dict
) -> str:
    """sha256 over the previous hash and the entry's canonical JSON (pure)."""
    body = json.dumps([seq, ts, actor, action, rollout, detail], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def verify(entries: list[AuditEntry]) -> int | None:
    """The seq of the first entry that breaks the chain, or None when it holds (pure)."""
    previous, expected_seq = GENESIS, None
    for entry in entries:
        if expected_seq is not None and entry.seq != expected_seq:
            return entry.seq
        fields = {k: v for k, v in asdict(entry).items() if k not in ("prev_hash", "hash")}
        if entry.prev_hash != previous or entry.hash != entry_hash(previous, **fields):
            return entry.seq
        previous, expected_seq = entry.hash, entry.seq + 1
    return None
