"""Upgrade: a new image for a RayService's cluster, carried out by KubeRay's own upgrade strategy
(a new cluster, switched to at once or in increments). The controller waits while KubeRay
upgrades, then judges the serving version on the new cluster against its reference distribution
and the absolute ceilings; a rollback reverts the cluster spec (KubeRay then moves back)."""

from controller.rollouts.spec import Phase, Rollout, RolloutSpec
from controller.rollouts.strategies.spec import Decision, moved, succeed


class Upgrade:
    moves_traffic = False

    def start(self, rollout: Rollout) -> Decision:
        change = rollout.spec.cluster
        reason = f"cluster upgrade to {change.image} handed to KubeRay ({change.upgrade_strategy()['type']})"
        return moved(
            rollout,
            "upgrade",
            reason,
            phase=Phase.PROGRESSING,
            step=0,
            traffic=rollout.traffic,
            cluster=change,
        )

    def advance(self, rollout: Rollout, now: float) -> Decision:
        return succeed(rollout, "analysis on the upgraded cluster passed", rollout.traffic)

    def promote(self, rollout: Rollout, now: float) -> Decision:
        return succeed(rollout, "promoted by an operator", rollout.traffic)

    def judged_steps(self, spec: RolloutSpec) -> int:
        return 1

    def analysed(self, rollout: Rollout) -> bool:
        return rollout.phase == Phase.PROGRESSING
