"""The target interface: read what a model serves, apply a new table, say when it is ready."""

from dataclasses import dataclass, field
from typing import Protocol

from runtime.desired import ScorerOptions
from runtime.traffic import ModelTraffic


class TargetError(Exception):
    """The target refused or could not be reached; the message says which and why."""


class DeployFailed(TargetError):
    """A version could not be deployed (Serve's reason in the message): the rollout fails."""


@dataclass(frozen=True)
class Served:
    """What a model serves on the target now."""

    traffic: ModelTraffic | None
    options: dict[int, ScorerOptions] = field(default_factory=dict)


class Target(Protocol):
    name: str

    def served(self, model: str) -> Served:
        """The model's traffic table and the options of its deployed versions."""

    def apply(self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]) -> None:
        """Make the model serve `traffic` (None removes it), versions with `options` where given."""

    def readiness(self, model: str) -> str | None:
        """None when what was applied serves, else what is awaited; DeployFailed if it cannot."""
