"""What a rollout is: its request (`RolloutSpec`), its phase, and its persisted record (`Rollout`).

Everything the controller needs to resume lives in the record: current step, weights, the counts of
failed / inconclusive / errored windows, the metric snapshot that opened the current window, and a
command an operator asked for. A restarted controller reads it and carries on exactly.
"""

import enum
import uuid

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from controller.kuberay.cluster import ClusterChange
from controller.targets.spec import TargetRef
from runtime.desired import ScorerOptions
from runtime.traffic import ModelTraffic


class Phase(enum.StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    PROMOTING = "Promoting"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"


TERMINAL = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED})
STRATEGY_NAMES = ("canary", "blue-green", "shadow", "rolling", "upgrade")
COMMANDS = ("promote", "pause", "resume", "abort", "rollback")


RETIRED = frozenset({"max_psi", "min_rows"})


class Thresholds(BaseModel):
    """The effects that matter. Judges (sequential, over the whole step) fail only beyond these
    floors; the ceilings (`max_p99_ms`, `max_error_rate`) are absolute limits on each window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_p99_ratio: float = Field(default=1.5, gt=1)
    max_p50_ratio: float = Field(default=1.5, gt=1)
    latency_tolerance_ms: float = Field(default=5.0, ge=0)
    """A latency quantile fails only when the candidate is also this much slower: a few milliseconds
    are noise on a busy machine (and the hop to a dedicated replica costs about that)."""
    max_p99_ms: float = Field(default=500.0, gt=0)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    max_error_rate_delta: float = Field(default=0.005, gt=0, le=1)
    """How much more often than the baseline the candidate may fail (server errors)."""
    max_ks: float = Field(default=0.1, gt=0, lt=0.5)
    """Score drift: KS distance of the candidate's score percentiles from its reference and from the
    stable version's (0.1 is about PSI 0.06 for a shifted normal; PSI 0.25 is about KS 0.2)."""
    max_anomaly_rate_delta: float = Field(default=0.05, gt=0, le=1)
    min_agreement: float = Field(default=0.8, ge=0, le=1)
    min_requests: int = Field(default=50, ge=1)
    """Requests per version and window below which the ceilings do not apply to the window."""

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: object, info: ValidationInfo) -> object:
        """Records stored before sequential judges hold `max_psi` and `min_rows` (read without them);
        a request naming them is refused."""
        if not isinstance(data, dict) or not RETIRED & data.keys():
            return data
        if (info.context or {}).get("stored"):
            return {k: v for k, v in data.items() if k not in RETIRED}
        raise ValueError(
            "max_psi and min_rows are retired: drift is judged sequentially against max_ks "
            "(see the README, 'How a rollout is judged')"
        )
        return data


class LoadTest(BaseModel):
    """A Locust gate run against the pinned candidate at every analysed step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = Field(default=8, ge=1, le=1000)
    duration_s: float = Field(default=10.0, gt=0, le=600)
    max_p99_ms: float = Field(default=500.0, gt=0)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    rps: float | None = Field(default=None, gt=0, le=100_000)
    """A steady rate, shared by the users; None: each user sends its next request at once."""

    @classmethod
    def parse(cls, text: str) -> "LoadTest":
        """`users=U,duration=D[s|m],p99=MS,errors=RATE[,rps=R]` (CLI) -> LoadTest; ValueError naming
        the bad key."""
        keys = {
            "users": "users", "duration": "duration_s", "p99": "max_p99_ms",
            "errors": "max_error_rate", "rps": "rps",
        }  # fmt: skip
        values = {}
        for item in filter(None, text.split(",")):
            key, _, value = item.partition("=")
            if key not in keys or not value:
                raise ValueError(f"load test {item!r}: use users=U,duration=D,p99=MS,errors=RATE[,rps=R]")
            values[keys[key]] = parse_duration(value) if key == "duration" else float(value)
        return cls(**values)


def parse_duration(text: str) -> float:
    """`30s`, `2m`, `1h` or plain seconds -> seconds; ValueError naming the text."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise ValueError(f"duration {text!r}: use seconds, or a number with s, m or h (e.g. 30s)") from None


class RolloutSpec(BaseModel):
    """A request to roll out `candidate` of `model` (parsed at the edge: CLI, control API)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    candidate: int = Field(ge=1)
    strategy: str = "canary"
    steps: list[int] = Field(default_factory=lambda: [10, 50, 100])
    """Canary: percent of traffic on the candidate at each step; shadow: percent mirrored."""
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
    shadow_percent: float = Field(default=100.0, gt=0, le=100)
    """Blue-green: share of live traffic mirrored to the waiting candidate (and to the old version
    once promoted)."""
    warm_s: float = Field(default=300.0, ge=0)
    """Blue-green: how long the old version stays deployed (and analysed against) after the switch."""
    loadtest: LoadTest | None = None
    options: ScorerOptions | None = None
    """Scorer options of the candidate (rolling: the new options of the running version)."""
    target: TargetRef = Field(default_factory=TargetRef)
    """Where the rollout is carried out (the local runtime unless named)."""
    cluster: ClusterChange | None = None
    """Upgrade: the cluster change (image, upgrade strategy) judged on the serving version."""

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, strategy: str) -> str:
        if strategy not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGY_NAMES)}")
        return strategy

    @model_validator(mode="after")
    def _steps(self) -> "RolloutSpec":
        steps = self.steps
        if not steps or any(not 0 < s <= 100 for s in steps) or steps != sorted(set(steps)):
            raise ValueError(f"steps must be increasing percentages in (0, 100], got {steps}")
        if self.strategy == "canary" and steps[-1] != 100:
            raise ValueError(f"a canary's last step must be 100 (the promotion), got {steps}")
        if (self.strategy == "upgrade") != (self.cluster is not None):
            raise ValueError("a cluster change (--image) goes with the upgrade strategy, and only with it")
        if self.strategy == "upgrade" and self.target.kind != "kuberay":
            raise ValueError("an upgrade changes a RayService's cluster: use --target kuberay")
        return self


class Counts(BaseModel):
    """Windows judged at the current step that were not Successful."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    failed: int = 0
    inconclusive: int = 0
    error: int = 0


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
    created: float
    updated: float
    revision: int = 0

    @property
    def active(self) -> bool:
        return self.phase not in TERMINAL
