"""Upgrade: a new image for a RayService's cluster, carried out by KubeRay's own upgrade strategy
(a new cluster, switched to at once or in increments). The controller waits while KubeRay
upgrades, then judges the serving version on the new cluster against its reference distribution
and the absolute ceilings; a rollback reverts the cluster spec (KubeRay then moves back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.rollouts.state import Phase
from controller.rollouts.strategies.spec import Decision, InPlace, moved
from controller.targets.cluster import ClusterChange
from controller.targets.spec import Served

if TYPE_CHECKING:
    from controller.rollouts.spec import Rollout, RolloutSpec


class Upgrade(InPlace):
    field = "upgrade"
    options = ClusterChange
    """The change is the options: the image, and how the cluster moves to it."""
    passed = "analysis on the upgraded cluster passed"
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
