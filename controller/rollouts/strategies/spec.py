"""The strategy interface and the decision every strategy returns (pure functions of the record)."""

from dataclasses import dataclass
from typing import Protocol

from controller.rollouts.spec import Counts, Phase, Rollout, RolloutSpec
from runtime.traffic import ModelTraffic


@dataclass(frozen=True)
class Decision:
    """What to do next: the record as it must become, and why. `name` is for people and the audit."""

    name: str
    rollout: Rollout
    reason: str


class Strategy(Protocol):
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
