"""Thresholds: the effects that matter to the judges, and the absolute ceilings of each window."""

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

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
    max_input_drift: float | None = Field(default=None, gt=0)
    """Input drift that pauses a step: the largest PSI of one feature's served rows (over the step)
    against the candidate's training bins. None (the default) leaves the inputs unjudged."""
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
