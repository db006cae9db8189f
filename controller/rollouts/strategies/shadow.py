"""Shadow: mirror a share of live traffic to the candidate (each step's percent), compare, report.
Callers are never answered by the candidate; at the end the mirror is removed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.rollouts.state import Phase
from controller.rollouts.strategies.spec import Decision, StepOptions, already_serving, moved, only, succeed
from controller.targets.spec import Served
from runtime.traffic import ModelTraffic

if TYPE_CHECKING:
    from controller.rollouts.spec import Rollout, RolloutSpec


class ShadowOptions(StepOptions):
    """A shadow's steps: percent of live traffic mirrored to the candidate at each."""


class Shadow:
    field = "shadow"
    options = ShadowOptions
    pairs = True
    moves_traffic = False
    target_kind = None

    def refused(self, spec: RolloutSpec, stable: int | None, served: Served) -> str | None:
        if stable is None:
            return f"{spec.model} is not served; a shadow needs a version to mirror from"
        return already_serving(spec, stable)

    def start(self, rollout: Rollout) -> Decision:
        return self._mirror(rollout, 0)

    def advance(self, rollout: Rollout, now: float) -> Decision:
        if rollout.step + 1 < len(rollout.spec.shadow.steps):
            return self._mirror(rollout, rollout.step + 1)
        return self._done(rollout, "shadow analysis passed at every step")

    def promote(self, rollout: Rollout, now: float) -> Decision:
        return self._done(rollout, "ended early by an operator")

    def judged_steps(self, spec: RolloutSpec) -> int:
        return len(spec.shadow.steps)

    def analysed(self, rollout: Rollout) -> bool:
        return rollout.phase == Phase.PROGRESSING

    def _mirror(self, rollout: Rollout, step: int) -> Decision:
        percent = rollout.spec.shadow.steps[step]
        traffic = ModelTraffic(
            weights={rollout.stable: 100}, shadows={rollout.spec.candidate: percent}, stable=rollout.stable
        )
        reason = f"{percent}% of live traffic mirrored to v{rollout.spec.candidate}"
        return moved(rollout, "mirror", reason, phase=Phase.PROGRESSING, step=step, traffic=traffic)

    def _done(self, rollout: Rollout, reason: str) -> Decision:
        return succeed(
            rollout,
            f"{reason}; mirror removed",
            only(rollout.stable),
        )
