"""The registry of rollout targets; `Targets` builds each target a rollout names once, on first use
(so a controller without Kubernetes credentials runs local rollouts fine)."""

import threading
from collections.abc import Callable

from controller.settings import ControllerSettings
from controller.targets import kuberay, local
from controller.targets.spec import Target, TargetError, TargetRef

TARGETS: dict[str, Callable[[TargetRef, ControllerSettings], Target]] = {
    "local": local.build,
    "kuberay": kuberay.build,
}


class Targets:
    """Resolves a `TargetRef` to its target, built once per ref."""

    def __init__(self, settings: ControllerSettings, registry=TARGETS):
        self._settings, self._registry = settings, registry
        self._built: dict[TargetRef, Target] = {}
        self._lock = threading.Lock()

    def __call__(self, ref: TargetRef) -> Target:
        if ref.kind not in self._registry:
            raise TargetError(f"unknown target {ref.kind!r}; choose one of {', '.join(self._registry)}")
        with self._lock:
            if ref not in self._built:
                self._built[ref] = self._registry[ref.kind](ref, self._settings)
            return self._built[ref]
