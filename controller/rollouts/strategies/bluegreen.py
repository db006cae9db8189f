"""Blue-green: the candidate waits at 0% fed by shadow traffic, passes pre-promotion analysis, takes
all traffic in one switch, and is analysed again while the old version stays warm (mirrored) for
`warm_s`, so a post-promotion failure switches back at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from controller.rollouts.state import Phase
from controller.rollouts.strategies.spec import Decision, already_serving, moved, only, succeed
from controller.targets.spec import Served
from runtime.traffic import ModelTraffic

if TYPE_CHECKING:
    from controller.rollouts.spec import Rollout, RolloutSpec


class BlueGreenOptions(BaseModel):
    """How the waiting candidate is fed, and how long the old version stays warm after the switch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shadow_percent: float = Field(default=100.0, gt=0, le=100)
    """Share of live traffic mirrored to the waiting candidate (and to the old version once promoted)."""
    warm_s: float = Field(default=300.0, ge=0)
    """How long the old version stays deployed (and analysed against) after the switch."""


class BlueGreen:
    field = "blue_green"
    options = BlueGreenOptions
    pairs = True
    moves_traffic = True
    target_kind = None

    def refused(self, spec: RolloutSpec, stable: int | None, served: Served) -> str | None:
        return already_serving(spec, stable)

    def start(self, rollout: Rollout) -> Decision:
        if rollout.stable is None:
            return self._switch(rollout, 0.0, "first version of the model: nothing to compare with")
        candidate, mirrored = rollout.spec.candidate, rollout.spec.blue_green.shadow_percent
        traffic = ModelTraffic(
            weights={rollout.stable: 100}, shadows={candidate: mirrored}, stable=rollout.stable
        )
        reason = f"v{candidate} deployed at 0%, mirrored {mirrored:g}% of live traffic"
        return moved(rollout, "deploy", reason, phase=Phase.PROGRESSING, step=0, traffic=traffic)

    def advance(self, rollout: Rollout, now: float) -> Decision:
        if rollout.phase == Phase.PROGRESSING:
            return self._switch(rollout, now, "pre-promotion analysis passed")
        warm_s = rollout.spec.blue_green.warm_s
        if rollout.stable is not None and now - (rollout.promoted_at or now) < warm_s:
            left = warm_s - (now - rollout.promoted_at)
            return moved(
                rollout,
                "hold",
                f"post-promotion analysis passed; v{rollout.stable} stays warm {left:.0f} s more",
                phase=Phase.PROMOTING,
                step=rollout.step,
                traffic=rollout.traffic,
            )
        return succeed(
            rollout,
            f"v{rollout.spec.candidate} serves all traffic",
            only(rollout.spec.candidate),
        )

    def promote(self, rollout: Rollout, now: float) -> Decision:
        if rollout.phase == Phase.PROMOTING:
            return succeed(
                rollout,
                "promoted by an operator",
                only(rollout.spec.candidate),
            )
        return self._switch(rollout, now, "promoted by an operator")

    def judged_steps(self, spec: RolloutSpec) -> int:
        return 2  # before the switch, and while the old version stays warm

    def analysed(self, rollout: Rollout) -> bool:
        return rollout.phase == Phase.PROGRESSING or (
            rollout.phase == Phase.PROMOTING and rollout.stable is not None
        )

    def _switch(self, rollout: Rollout, now: float, reason: str) -> Decision:
        spec, stable = rollout.spec, rollout.stable
        if stable is None:
            traffic = only(spec.candidate)
        else:
            mirrored = spec.blue_green.shadow_percent
            traffic = ModelTraffic(
                weights={spec.candidate: 100}, shadows={stable: mirrored}, stable=spec.candidate
            )
        return moved(
            rollout,
            "switch",
            f"{reason}; all traffic on v{spec.candidate}",
            phase=Phase.PROMOTING,
            step=1,
            traffic=traffic,
            promoted_at=now,
        )
