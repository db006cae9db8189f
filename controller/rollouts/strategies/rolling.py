"""Rolling: new Scorer options (replicas, batching, CPUs, GPUs) for the running version, applied in
place; Serve replaces its replicas one by one. The updated version is judged against its reference
distribution and the absolute ceilings; a rollback restores the previous options."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from controller.rollouts.state import Phase
from controller.rollouts.strategies.spec import Decision, InPlace, moved
from controller.targets.spec import Served

if TYPE_CHECKING:
    from controller.rollouts.spec import Rollout, RolloutSpec


class RollingOptions(BaseModel):
    """None of its own: the new scorer options are the spec's `options`."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Rolling(InPlace):
    field = "rolling"
    options = RollingOptions
    passed = "analysis after the update passed"
    target_kind = None

    def refused(self, spec: RolloutSpec, stable: int | None, served: Served) -> str | None:
        if stable != spec.candidate:
            return (
                f"a rolling update changes the options of the version serving now (v{stable}); "
                f"roll out v{spec.candidate} with canary or blue-green instead"
            )
        if spec.options is None:
            return "a rolling update needs the new scorer options (--options JSON)"
        return None

    def start(self, rollout: Rollout) -> Decision:
        reason = f"v{rollout.spec.candidate} updated in place with new options"
        return moved(
            rollout,
            "update",
            reason,
            phase=Phase.PROGRESSING,
            step=0,
            traffic=rollout.traffic,
            options=rollout.spec.options,
        )
