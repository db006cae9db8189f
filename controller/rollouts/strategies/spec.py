"""The strategy interface and the decision every strategy returns (pure functions of the record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from controller.rollouts.state import Counts, Phase
from controller.targets.spec import Served
from runtime.traffic import ModelTraffic

if TYPE_CHECKING:  # the spec names every strategy's options, so it imports the strategies
    from controller.rollouts.spec import Rollout, RolloutSpec


@dataclass(frozen=True)
class Decision:
    """What to do next: the record as it must become, and why. `name` is for people and the audit."""

    name: str
    rollout: Rollout
    reason: str


class Strategy(Protocol):
    """How a rollout moves from step to step, and what it needs to start."""

    field: str
    """The `RolloutSpec` field holding its options: giving that field chooses the strategy."""
    options: type[BaseModel]
    """The model of that field."""
    pairs: bool
    """Whether one version sees mirrored copies of the other's requests (the judges pair answers)."""
    moves_traffic: bool
    """Whether callers may be answered by the candidate: a failure then rolls back rather than fails."""
    target_kind: str | None
    """The only kind of target it runs on; None: any."""

    def refused(self, spec: RolloutSpec, stable: int | None, served: Served) -> str | None:
        """Why the rollout cannot start from what `served` holds (`stable` serving all), or None."""

    def start(self, rollout: Rollout) -> Decision:
        """The first step of a Pending rollout."""

    def advance(self, rollout: Rollout, now: float) -> Decision:
        """The step after a Successful window, or after a step that is not analysed."""

    def promote(self, rollout: Rollout, now: float) -> Decision:
        """An operator's promote: skip the remaining analysis."""

    def analysed(self, rollout: Rollout) -> bool:
        """Whether the current step waits for Successful analysis windows."""

    def judged_steps(self, spec: RolloutSpec) -> int:
        """How many steps of a rollout are analysed (its alpha is split among them)."""


def percent_steps(steps: list[int]) -> list[int]:
    """`steps` if they are increasing percentages in (0, 100]; else ValueError showing them."""
    if not steps or any(not 0 < s <= 100 for s in steps) or steps != sorted(set(steps)):
        raise ValueError(f"steps must be increasing percentages in (0, 100], got {steps}")
    return steps


class StepOptions(BaseModel):
    """Steps in percent of live traffic, increasing, in (0, 100] (canary: moved; shadow: mirrored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: list[int] = Field(default_factory=lambda: [10, 50, 100])

    @field_validator("steps")
    @classmethod
    def _percent(cls, steps: list[int]) -> list[int]:
        return percent_steps(steps)


def already_serving(spec: RolloutSpec, stable: int | None) -> str | None:
    """Why a strategy that deploys a new version cannot roll out the one serving now, or None."""
    if stable == spec.candidate:
        return f"v{spec.candidate} already serves all of {spec.model}'s traffic"
    return None


def moved(
    rollout: Rollout,
    name: str,
    reason: str,
    *,
    phase: Phase,
    step: int,
    traffic: ModelTraffic | None,
    **changes,
) -> Decision:
    """A decision that changes the step (and so opens a fresh window with fresh counts)."""
    changed = traffic != rollout.traffic or any(
        changes.get(key, getattr(rollout, key)) != getattr(rollout, key) for key in ("options", "cluster")
    )
    update = {
        "phase": phase,
        "step": step,
        "traffic": traffic,
        "reason": reason,
        "counts": Counts(),
        "evidence": {},
        "evidence_s": 0.0,
        "p_values": {},
        "window_started": None,
        "window_base": None,
        "applied": rollout.applied and not changed,
        "command": None,
        **changes,
    }
    return Decision(name, rollout.model_copy(update=update), reason)


def succeed(rollout: Rollout, reason: str, traffic: ModelTraffic | None) -> Decision:
    """The rollout ends Succeeded with `traffic` as the final table."""
    return moved(rollout, "succeed", reason, phase=Phase.SUCCEEDED, step=rollout.step, traffic=traffic)


def only(version: int) -> ModelTraffic:
    """All traffic on one version."""
    return ModelTraffic(weights={version: 100})


def split(stable: int, candidate: int, percent: int) -> ModelTraffic:
    """`percent` of traffic on the candidate, the rest on the stable version."""
    return ModelTraffic(weights={stable: 100 - percent, candidate: percent}, stable=stable)


class InPlace:
    """What the strategies that change the serving version in place share (rolling, upgrade): one
    change, one analysed step judged against the reference and the ceilings, nobody else's traffic."""

    pairs = False
    moves_traffic = False
    passed: str
    """Why the rollout succeeds once the step's analysis passed."""

    def advance(self, rollout: Rollout, now: float) -> Decision:
        return succeed(rollout, self.passed, rollout.traffic)

    def promote(self, rollout: Rollout, now: float) -> Decision:
        return succeed(rollout, "promoted by an operator", rollout.traffic)

    def judged_steps(self, spec: RolloutSpec) -> int:
        return 1

    def analysed(self, rollout: Rollout) -> bool:
        return rollout.phase == Phase.PROGRESSING
