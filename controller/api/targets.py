"""The target a control API request names in its query, resolved to the controller's target."""

from collections.abc import Callable

from controller.targets.registry import TARGETS
from controller.targets.spec import Target, TargetRef


def target_ref(
    target: str = "local", namespace: str | None = None, rayservice: str | None = None
) -> TargetRef:
    """The target a request names in its query (`?target=kuberay&namespace=..&rayservice=..`)."""
    return TargetRef(kind=target, namespace=namespace, rayservice=rayservice)


def resolve(targets: Callable[[TargetRef], Target], ref: TargetRef) -> Target:
    """The target `ref` names; ValueError (a client's mistake) listing the targets there are."""
    if ref.kind not in TARGETS:
        raise ValueError(f"unknown target {ref.kind!r}; choose one of {', '.join(TARGETS)}")
    return targets(ref)
