"""The environments file (`environments.yaml`): each environment's target, how a version is rolled
out there, which environment it must have passed first, how long it must have soaked there, and who
approves it. Parsed once at the edge; every mistake is named with its environment and key.

    environments:
      dev:
        target: {kind: local}
        rollout: {shadow: {steps: [50, 100]}, interval_s: 15}
      production:
        target: {kind: local}
        upstream: dev
        soak: 1m
        approval: {role: approver, four_eyes: true}
        rollout: {canary: {steps: [10, 50, 100]}, interval_s: 15}
"""

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from controller.analysis.loadtest import parse_duration
from controller.rollouts.spec import RolloutSpec
from controller.targets.spec import TargetRef
from runtime.tokens import ROLES

DEFAULT_FILE = Path("environments.yaml")
"""Read from the controller's working folder when no other file is named."""
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
NOT_DEFAULTS = ("model", "candidate", "target")
"""Rollout spec fields an environment's defaults cannot set: the promotion and the target name them."""


def _seconds(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


class ApprovalPolicy(BaseModel):
    """Who approves a version for the environment, and whether they may also promote it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str = "approver"
    """The least role an approver holds."""
    four_eyes: bool = True
    """The approver and the promoter are different people."""

    @model_validator(mode="after")
    def _known(self) -> "ApprovalPolicy":
        if self.role not in ROLES or ROLES[self.role] < ROLES["deployer"]:
            strong = [r for r in ROLES if ROLES[r] >= ROLES["deployer"]]
            raise ValueError(f"approval role {self.role!r}: choose one of {', '.join(strong)}")
        return self


class Environment(BaseModel):
    """One environment (its name is its key in the file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    target: TargetRef = Field(default_factory=TargetRef)
    upstream: str | None = None
    """The environment a version must have succeeded in before it is promoted here."""
    soak: Annotated[float, BeforeValidator(_seconds), Field(ge=0)] = 0.0
    """Seconds a version must have spent in `upstream` since its success, without a rollback or an
    alert, before it is promoted here (`30s`, `10m`, `1h` or seconds)."""
    approval: ApprovalPolicy | None = None
    """None: no approval needed."""
    rollout: dict[str, Any] = Field(default_factory=dict)
    """How a version is rolled out here: any rollout spec field but model, candidate and target
    (default: a canary with its default steps)."""

    @model_validator(mode="after")
    def _rollout_is_a_spec(self) -> "Environment":
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"{self.name!r} is not an environment name: lowercase letters, digits and -")
        if taken := [key for key in NOT_DEFAULTS if key in self.rollout]:
            raise ValueError(f"rollout: {', '.join(taken)} cannot be set here (the promotion names them)")
        self.spec("model", 1)  # a mistake in the defaults shows when the file is read, not at promotion
        return self

    def spec(self, model: str, version: int) -> RolloutSpec:
        """The rollout of `version` of `model` in this environment."""
        return RolloutSpec(model=model, candidate=version, target=self.target, **self.rollout)


class Environments(BaseModel):
    """Every environment, each upstream naming another, and no cycle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environments: dict[str, Environment]
    source: str = "built-in defaults"
    """The file they were read from."""

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("environments"), dict):
            named = {
                k: {**v, "name": k} if isinstance(v, dict) else v for k, v in data["environments"].items()
            }
            data = {**data, "environments": named}
        return data

    @model_validator(mode="after")
    def _chained(self) -> "Environments":
        if not self.environments:
            raise ValueError("environments: declare at least one")
        for name, environment in self.environments.items():
            if environment.upstream is not None and environment.upstream not in self.environments:
                raise ValueError(
                    f"{name}: upstream {environment.upstream!r} is not an environment "
                    f"(declared: {', '.join(self.environments)})"
                )
            seen, at = [name], environment.upstream
            while at is not None:
                if at in seen:
                    raise ValueError(f"{name}: upstreams go round in a circle ({' -> '.join([*seen, at])})")
                seen, at = [*seen, at], self.environments[at].upstream
        return self

    def get(self, name: str) -> Environment:
        """The environment called `name`; LookupError listing those there are."""
        if name not in self.environments:
            raise LookupError(
                f"no environment {name!r} in {self.source}; choose one of {', '.join(self.environments)}"
            )
        return self.environments[name]

    def upstream_of(self, environment: Environment) -> Environment | None:
        return self.environments[environment.upstream] if environment.upstream else None


DEFAULTS = {
    "dev": {"target": {"kind": "local"}, "rollout": {"shadow": {"steps": [50, 100]}, "interval_s": 15}},
    "production": {
        "target": {"kind": "local"},
        "upstream": "dev",
        "soak": "1m",
        "approval": {"role": "approver", "four_eyes": True},
        "rollout": {"canary": {"steps": [10, 50, 100]}, "interval_s": 15},
    },
}
"""Without a file: `dev` verifies a version on a mirror of the local runtime's live traffic (callers
are never answered by it), then `production` moves that traffic to it as a canary, after a minute's
soak and an approval by someone other than the promoter."""


def load(path: Path | None = None) -> Environments:
    """The environments in `path`, else in `DEFAULT_FILE` where it exists, else `DEFAULTS`;
    ValueError naming the file and each bad key."""
    path = path if path is not None else (DEFAULT_FILE if DEFAULT_FILE.is_file() else None)
    if path is None:
        return Environments(environments=DEFAULTS)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"cannot read the environments file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path} is not YAML: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with an 'environments' key")
    try:
        return Environments.model_validate({**data, "source": str(path)})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ValueError(f"{path}: {problems}") from None
