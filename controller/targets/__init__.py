"""Targets: where a rollout's traffic and options are applied. One module per target."""

from controller.targets.local import LocalTarget
from controller.targets.spec import Served, Target, TargetError

TARGETS = {"local": LocalTarget}

__all__ = ["TARGETS", "Served", "Target", "TargetError"]
