"""What a rollout is: its request (`RolloutSpec`) and its persisted record (`Rollout`).

Everything the controller needs to resume lives in the record: current step, weights, the counts of
failed / inconclusive / errored windows, the metric snapshot that opened the current window, and a
command an operator asked for. A restarted controller reads it and carries on exactly.
"""

import uuid

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from controller.analysis.loadtest import LoadTest
from controller.analysis.thresholds import Thresholds
from controller.environments.records import Promotion
from controller.rollouts.flat import nest
from controller.rollouts.state import TERMINAL, Counts, Phase
from controller.rollouts.strategies import DEFAULT, STRATEGIES
from controller.rollouts.strategies.bluegreen import BlueGreenOptions
from controller.rollouts.strategies.canary import CanaryOptions
from controller.rollouts.strategies.rolling import RollingOptions
from controller.rollouts.strategies.shadow import ShadowOptions
from controller.targets.cluster import ClusterChange
from controller.targets.spec import TargetRef
from runtime.desired import ScorerOptions
from runtime.traffic import ModelTraffic

COMMANDS = ("promote", "pause", "resume", "abort", "rollback")


class RolloutSpec(BaseModel):
    """A request to roll out `candidate` of `model` (parsed at the edge: CLI, control API).

    Exactly one strategy field is given, holding that strategy's options (none: a canary with its
    default steps); `strategy` names it. Each registered strategy has its field here, typed by its
    options model. The flat shape of earlier releases is read too (`rollouts.flat`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    candidate: int = Field(ge=1)
    canary: CanaryOptions | None = None
    blue_green: BlueGreenOptions | None = None
    shadow: ShadowOptions | None = None
    rolling: RollingOptions | None = None
    upgrade: ClusterChange | None = None
    """The cluster change (image, how the cluster moves to it), judged on the serving version."""
    interval_s: float = Field(default=30.0, gt=0)
    """Length of each analysis window."""
    thresholds: Thresholds = Field(default_factory=Thresholds)
    alpha: float = Field(default=0.01, gt=0, lt=1)
    """The chance that a healthy candidate is rolled back by a judge at all, over every judge and
    look of the rollout (split evenly across its analysed steps and judges)."""
    wait_for_evidence: bool = False
    """Hold each analysed step until every judge could see a regression of twice its floor (a step
    short of it pauses after `inconclusive_limit` windows); by default a step advances when its
    window closes cleanly and says which judges were short."""
    failure_limit: int = Field(default=1, ge=0)
    """Windows over a ceiling tolerated; one more rolls back."""
    inconclusive_limit: int = Field(default=3, ge=0)
    error_limit: int = Field(default=2, ge=0)
    loadtest: LoadTest | None = None
    options: ScorerOptions | None = None
    """Scorer options of the candidate (rolling: the new options of the running version)."""
    target: TargetRef = Field(default_factory=TargetRef)
    """Where the rollout is carried out (the local runtime unless named)."""

    @model_validator(mode="before")
    @classmethod
    def _one_field_per_strategy(cls, data: object) -> object:
        data = nest(data)
        if isinstance(data, dict) and all(data.get(s.field) is None for s in STRATEGIES.values()):
            data = {**data, STRATEGIES[DEFAULT].field: {}}
        return data

    @model_validator(mode="after")
    def _one_strategy(self) -> "RolloutSpec":
        given = [name for name, s in STRATEGIES.items() if getattr(self, s.field) is not None]
        if len(given) != 1:
            raise ValueError(f"give one strategy, not {' and '.join(given)}")
        kind = STRATEGIES[given[0]].target_kind
        if kind is not None and self.target.kind != kind:
            raise ValueError(f"{given[0]} runs on a {kind} target only: use --target {kind}")
        if self.loadtest is not None and self.target.home is not None:
            raise ValueError(
                f"loadtest: the load-test gate sends load to the controller's own runtime, not to "
                f"{self.target.home}; drop loadtest for this target and send traffic there"
            )
        return self

    @computed_field
    @property
    def strategy(self) -> str:
        """The name of the strategy whose field is given."""
        return next(name for name, s in STRATEGIES.items() if getattr(self, s.field) is not None)


class Rollout(BaseModel):
    """The persisted record; `revision` increases with every save (optimistic concurrency)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    spec: RolloutSpec
    stable: int | None
    """The version serving 100% when the rollout was created (None for a model's first version)."""
    phase: Phase = Phase.PENDING
    step: int = -1
    """Index of the strategy's current step; -1 before the first action."""
    traffic: ModelTraffic | None = None
    """The model's traffic the controller wants; None until the first action."""
    options: ScorerOptions | None = None
    """Scorer options the controller wants for the candidate version."""
    previous_options: ScorerOptions | None = None
    """The candidate's options before the rollout (rolling: what a rollback restores)."""
    cluster: ClusterChange | None = None
    """The cluster the controller wants (upgrade); None leaves the cluster alone."""
    previous_cluster: ClusterChange | None = None
    """The cluster before the rollout (upgrade: what a rollback reverts to)."""
    applied: bool = True
    """False between recording a decision and the target confirming it (re-applied on restart)."""
    window_started: float | None = None
    """Wall-clock time the current analysis window opened (None while waiting for readiness)."""
    window_base: dict[str, float] | None = None
    """The metric snapshot that opened the current window."""
    evidence: dict[str, float] = Field(default_factory=dict)
    """Everything the step's closed windows counted (their increases summed): what the judges read."""
    evidence_s: float = 0.0
    """Seconds of traffic in `evidence`."""
    p_values: dict[str, float] = Field(default_factory=dict)
    """Each judge's p-value at the step's last look (the next look reports the running minimum)."""
    counts: Counts = Field(default_factory=Counts)
    feature_bins: dict[str, int] | None = None
    """The candidate's features and their numbers of training-quantile bins, from its manifest when
    the rollout was created (what its input drift is measured against); None when it has none."""
    command: str | None = None
    """An operator command waiting for the loop (promote, pause, resume, abort, rollback)."""
    paused_from: Phase | None = None
    """The phase a paused rollout resumes in."""
    paused_for_metrics: bool = False
    """Paused because the metric source was unreachable: resumed by itself once it answers again."""
    promoted_at: float | None = None
    waiting: str | None = None
    """What the current step is waiting for on the target (readiness, a cluster upgrade), if anything."""
    reason: str = ""
    environment: str | None = None
    """The environment it was promoted to (`raynomaly promote`); None for a direct deploy."""
    promotion: Promotion | None = None
    """Who promoted it, why, and on what evidence (None for a direct deploy)."""
    created: float
    updated: float
    revision: int = 0

    @property
    def active(self) -> bool:
        return self.phase not in TERMINAL
