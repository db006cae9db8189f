"""The traffic table: which versions of each model serve, with what weight, and who is mirrored.

The table lives in the gateway's `user_config`; a change is one in-place `reconfigure()`.
Routing is a pure function of the table, the request's pin or sticky key, and a random draw,
so it can be tested as a truth table and reproduced from a record.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STABLE, CANARY, SHADOW = "stable", "canary", "shadow"


class ModelTraffic(BaseModel):
    """One model's routes: weights over deployed versions, shadow mirrors, sticky routing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[int, int]
    """Percent of live traffic per deployed version (0 keeps a version deployed but unrouted)."""
    shadows: dict[int, float] = Field(default_factory=dict)
    """Versions that receive a copy of this percent of requests; their answers are discarded."""
    sticky_header: str | None = None
    """Request header whose value pins a caller to one version while weights stay put."""
    stable: int | None = None
    """The version labelled `stable` in metrics; default: the one with the largest weight."""

    @field_validator("weights")
    @classmethod
    def _weights(cls, weights: dict[int, int]) -> dict[int, int]:
        if not weights:
            raise ValueError("at least one version must be deployed")
        if any(w < 0 or w > 100 for w in weights.values()):
            raise ValueError(f"weights must be between 0 and 100, got {weights}")
        if sum(weights.values()) != 100:
            raise ValueError(f"weights must sum to 100, got {sum(weights.values())} ({weights})")
        return weights

    @field_validator("shadows")
    @classmethod
    def _shadows(cls, shadows: dict[int, float]) -> dict[int, float]:
        if any(not 0 < p <= 100 for p in shadows.values()):
            raise ValueError(f"shadow percentages must be in (0, 100], got {shadows}")
        return shadows

    @model_validator(mode="after")
    def _stable(self) -> "ModelTraffic":
        if self.stable is not None and self.stable not in self.weights:
            raise ValueError(f"stable version {self.stable} is not deployed ({sorted(self.weights)})")
        return self

    @property
    def versions(self) -> list[int]:
        """Every version that must be deployed: routed, unrouted and shadow."""
        return sorted(set(self.weights) | set(self.shadows))

    @property
    def stable_version(self) -> int:
        """The `stable` version: as set, else the one with the largest weight (the lowest on a tie)."""
        if self.stable is not None:
            return self.stable
        return min(self.weights, key=lambda v: (-self.weights[v], v))

    def role(self, version: int) -> str:
        """`stable`, `canary` or `shadow` (pure)."""
        if version == self.stable_version:
            return STABLE
        return CANARY if version in self.weights else SHADOW


class TrafficTable(BaseModel):
    """Traffic of every served model, by model name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: dict[str, ModelTraffic] = Field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """Where one request goes: the answering version and the versions mirrored to."""

    version: int
    role: str
    mirrors: tuple[int, ...] = ()


def bucket(key: str) -> float:
    """A stable position in [0, 100) for a sticky key (same key, same bucket, on every replica)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100


def route(traffic: ModelTraffic, draw: float, mirror_draw: float, pinned: int | None = None,
          sticky: str | None = None) -> Route:  # fmt: skip
    """Pick the version for a request (pure).

    `draw` and `mirror_draw` are uniform in [0, 100). A pinned version answers if deployed (the
    caller checks); a sticky key replaces `draw` with its bucket. Mirrors are the shadow versions
    whose percentage exceeds `mirror_draw`, excluding the answering version.
    """
    if pinned is not None:
        version = pinned
    else:
        position = bucket(sticky) if sticky is not None else draw
        version, cumulative = None, 0
        for candidate in sorted(traffic.weights):
            cumulative += traffic.weights[candidate]
            if position < cumulative:
                version = candidate
                break
        assert version is not None  # weights sum to 100 and position < 100
    mirrors = tuple(v for v, p in sorted(traffic.shadows.items()) if mirror_draw < p and v != version)
    return Route(version, traffic.role(version), mirrors)


def parse_assignments(items: list[str], what: str) -> Mapping[int, float]:
    """`VERSION=NUMBER` strings (CLI) -> {version: number}; ValueError naming the bad item."""
    parsed = {}
    for item in items:
        version, sep, number = item.partition("=")
        try:
            parsed[int(version)] = float(number)
        except ValueError:
            raise ValueError(f"{what} {item!r}: use VERSION={what.upper()}, e.g. 2=10") from None
        if not sep:
            raise ValueError(f"{what} {item!r}: use VERSION={what.upper()}, e.g. 2=10")
    return parsed
