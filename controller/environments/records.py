"""What promotion records: an approval of a version for an environment, and the promotion that
started a rollout (who, why, under which ticket, on what evidence)."""

import uuid

from pydantic import BaseModel, ConfigDict, Field


class Approval(BaseModel):
    """`actor` approved `version` of `model` for `environment`, having seen the upstream rollout
    `upstream` succeed: the approval holds for that evidence only (a newer upstream rollout needs a
    new approval)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    model: str
    version: int = Field(ge=1)
    environment: str
    actor: str
    role: str
    reason: str
    ticket: str | None = None
    upstream: str | None
    """The upstream rollout whose success was approved (None where the environment has no upstream)."""
    created: float


class Upstream(BaseModel):
    """The upstream rollout a promotion rests on, and what its analysis said."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rollout: str
    environment: str
    phase: str
    strategy: str
    finished: float
    verdicts: dict[str, int] = Field(default_factory=dict)
    """How many analysis windows ended in each outcome (Successful, Failed, Inconclusive, Error)."""


class Promotion(BaseModel):
    """Why a rollout was started by `raynomaly promote`: kept in its record and its audit entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: str
    reason: str
    ticket: str | None = None
    upstream: Upstream | None = None
    approvals: list[str] = Field(default_factory=list)
    """The approvals it counted, as `id by actor`."""
    alerts_checked: bool = False
    """Whether the soak was checked against alerts (the controller reads Prometheus) or only
    against the rollout records."""
