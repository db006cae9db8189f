"""Canary: the candidate takes a growing share of live traffic, step by step, each step analysed
against the stable version; the last step (100) is the promotion."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import field_validator

from controller.rollouts.state import Phase
from controller.rollouts.strategies.spec import (
    Decision,
    StepOptions,
    already_serving,
    moved,
    only,
    split,
    succeed,
)
from controller.targets.spec import Served
from runtime.traffic import ModelTraffic

if TYPE_CHECKING:
    from controller.rollouts.spec import Rollout, RolloutSpec


class CanaryOptions(StepOptions):
    """A canary's steps: percent of live traffic on the candidate at each, the last one 100."""

    @field_validator("steps")
    @classmethod
    def _promotes(cls, steps: list[int]) -> list[int]:
        if steps[-1] != 100:
            raise ValueError(f"a canary's last step must be 100 (the promotion), got {steps}")
        return steps


class Canary:
    field = "canary"
    options = CanaryOptions
    pairs = False
    moves_traffic = True
    target_kind = None

    def refused(self, spec: RolloutSpec, stable: int | None, served: Served) -> str | None:
        return already_serving(spec, stable)

    def start(self, rollout: Rollout) -> Decision:
        if rollout.stable is None:
            return self._promoting(rollout, 0.0, "first version of the model: nothing to compare with")
        return self._step(rollout, 0)

    def advance(self, rollout: Rollout, now: float) -> Decision:
        if rollout.phase == Phase.PROMOTING:
            return succeed(
                rollout,
                f"v{rollout.spec.candidate} serves all traffic",
                only(rollout.spec.candidate),
            )
        return self._step(rollout, rollout.step + 1, now)

    def promote(self, rollout: Rollout, now: float) -> Decision:
        return self._promoting(rollout, now, "promoted by an operator")

    def judged_steps(self, spec: RolloutSpec) -> int:
        return sum(1 for percent in spec.canary.steps if percent < 100)

    def analysed(self, rollout: Rollout) -> bool:
        return rollout.phase == Phase.PROGRESSING

    def _step(self, rollout: Rollout, step: int, now: float = 0.0) -> Decision:
        steps = rollout.spec.canary.steps
        percent = steps[step]
        if percent == 100:
            return self._promoting(rollout, now, f"analysis passed at {steps[step - 1]}%")
        reason = f"v{rollout.spec.candidate} at {percent}%" + (" after a passing window" if step else "")
        return moved(
            rollout,
            "advance",
            reason,
            phase=Phase.PROGRESSING,
            step=step,
            traffic=split(rollout.stable, rollout.spec.candidate, percent),
        )

    def _promoting(self, rollout: Rollout, now: float, reason: str) -> Decision:
        candidate, stable = rollout.spec.candidate, rollout.stable
        # The old version stays deployed at 0% until every gateway replica routes to the new one,
        # so no request in flight can reach a deleted application.
        weights = {candidate: 100} if stable is None else {candidate: 100, stable: 0}
        return moved(
            rollout,
            "promote",
            reason,
            phase=Phase.PROMOTING,
            step=len(rollout.spec.canary.steps) - 1,
            traffic=ModelTraffic(weights=weights, stable=candidate),
            promoted_at=now or None,
        )
