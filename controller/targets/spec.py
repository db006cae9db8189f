"""The target interface: read what a model serves, apply a new table, say when it is ready; and
`TargetRef`, the name of a target a rollout is carried out on.

A version that cannot be deployed is `runtime.serving.DeployFailed` on every target (the rollout
fails); a record changed by another writer is `runtime.conflict.Conflict` (read again, retry).
"""

import re
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict, model_validator

from controller.targets.cluster import ClusterChange
from runtime.desired import ScorerOptions
from runtime.traffic import ModelTraffic

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class TargetError(Exception):
    """The target refused or could not be reached; the message says which and why."""


class Waiting(TargetError):
    """The target cannot take a change now (e.g. KubeRay is upgrading the cluster); try again later."""


class TargetRef(BaseModel):
    """Which target a rollout runs on: the local runtime, or a RayService on KubeRay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = "local"
    """A name in `controller.targets.TARGETS`."""
    namespace: str | None = None
    rayservice: str | None = None
    home: str | None = None
    """local: the state folder of another local runtime (the `RAYNOMALY_HOME` it was started with);
    None: the controller's own."""

    @model_validator(mode="after")
    def _complete(self) -> "TargetRef":
        named = {"namespace": self.namespace, "rayservice": self.rayservice}
        if self.home is not None and self.kind != "local":
            raise ValueError(f"home names another local runtime; the {self.kind!r} target has none")
        if self.kind == "kuberay":
            for key, value in named.items():
                if value is None or not _DNS_LABEL.fullmatch(value):
                    raise ValueError(
                        f"the kuberay target needs --{key}, a lowercase DNS label; got {value!r}"
                    )
        elif any(v is not None for v in named.values()):
            raise ValueError(f"--namespace and --rayservice apply to the kuberay target, not {self.kind!r}")
        return self

    def __str__(self) -> str:
        if self.kind == "kuberay":
            return f"kuberay:{self.namespace}/{self.rayservice}"
        return self.kind if self.home is None else f"{self.kind}:{self.home}"


@dataclass(frozen=True)
class Served:
    """What a model serves on the target now."""

    traffic: ModelTraffic | None
    options: dict[int, ScorerOptions] = field(default_factory=dict)
    cluster: ClusterChange | None = None
    """The cluster's image and upgrade strategy, where the target has one (KubeRay)."""


class ClusterTarget(Protocol):
    """A target whose Ray cluster itself can be changed (KubeRay); checked with `upgrades_clusters`."""

    def upgrade(self, change: ClusterChange) -> None:
        """Ask for `change` (the target's own upgrade machinery carries it out); Waiting while busy."""


def upgrades_clusters(target: object) -> bool:
    """Whether `target` can carry out cluster changes."""
    return callable(getattr(target, "upgrade", None))


class Target(Protocol):
    name: str

    def served(self, model: str) -> Served:
        """The model's traffic table and the options of its deployed versions."""

    def apply(self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]) -> None:
        """Make the model serve `traffic` (None removes it), versions with `options` where given."""

    def readiness(self, model: str) -> str | None:
        """None when what was applied serves, else what is awaited; DeployFailed if it cannot."""
