"""Upgrade: a new image for a RayService's cluster, carried out by KubeRay's own upgrade strategy
(a new cluster, switched to at once or in increments). The controller waits while KubeRay
upgrades, then judges the serving version on the new cluster against its reference distribution
and the absolute ceilings; a rollback reverts the cluster spec (KubeRay then moves back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.rollouts.state import Phase
from controller.rollouts.strategies.spec import Decision, moved, succeed
from controller.targets.cluster import ClusterChange
from controller.targets.spec import Served

if TYPE_CHECKING:
    from controller.rollouts.spec import Rollout, RolloutSpec


class Upgrade:
    field = "upgrade"
    options = ClusterChange
    """The change is the options: the image, and how the cluster moves to it."""
    pairs = False
    moves_traffic = False
    target_kind = "kuberay"
    """Only a RayService's cluster can be changed."""

    def refused(self, spec: RolloutSpec, stable: int | None, served: Served) -> str | None:
        if stable != spec.candidate:
            return (
                f"an upgrade is judged on the version serving all traffic (v{stable}), "
                f"not v{spec.candidate}: name v{stable}"
            )
        if served.cluster is None:
            return "this target has no cluster to upgrade; use --target kuberay"
        if served.cluster == spec.upgrade:
            return f"the cluster already runs {spec.upgrade.image} that way"
        return None

    def start(self, rollout: Rollout) -> Decision:
        change = rollout.spec.upgrade
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
