"""Measurements and verdicts: a value with a phase, so "no data" is never a bad or a good value."""

import enum
import math
from dataclasses import asdict, dataclass, field


class Outcome(enum.StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    """Too little data to judge (e.g. too few requests in the window)."""
    ERROR = "Error"
    """The measurement could not be taken (e.g. the metric source is unreachable)."""


# A bad value outranks missing data; missing data (source down) outranks too little data.
RANK = {Outcome.FAILED: 3, Outcome.ERROR: 2, Outcome.INCONCLUSIVE: 1, Outcome.SUCCESSFUL: 0}


@dataclass(frozen=True)
class Measurement:
    """One judged value: `value` is None when it could not be measured.

    `kind` says what failing means: a `judge` (a sequential test over the step's evidence) fails at
    most with its `alpha` share when the candidate is healthy, so one failure rolls back; a `ceiling`
    (an absolute limit on one window, or the load-test gate) counts against the failure limit and,
    without enough traffic in the window, does not apply; `metrics` is the source itself."""

    name: str
    outcome: Outcome
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    kind: str = "ceiling"
    p_value: float | None = None
    alpha: float | None = None
    low: float | None = None
    high: float | None = None
    """The effect's interval at `alpha` (a judge's confidence sequence)."""
    samples: float | None = None
    needed: float | None = None
    """Candidate samples at which a regression of twice the floor would show (None: out of reach)."""


@dataclass(frozen=True)
class Verdict:
    """The measurements of one window and their combined outcome."""

    outcome: Outcome
    measurements: tuple[Measurement, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, measurements: list[Measurement]) -> "Verdict":
        """The worst outcome among `measurements` (pure); no measurements at all is Inconclusive."""
        if not measurements:
            return cls(
                Outcome.INCONCLUSIVE,
                (Measurement("window", Outcome.INCONCLUSIVE, message="nothing measured"),),
            )
        counted = [m.outcome for m in measurements if m.kind == "judge" or m.outcome != Outcome.INCONCLUSIVE]
        worst = max(counted, key=RANK.__getitem__) if counted else Outcome.INCONCLUSIVE
        return cls(worst, tuple(measurements))

    def failed(self, kind: str) -> list[Measurement]:
        """The Failed measurements of one kind."""
        return [m for m in self.measurements if m.kind == kind and m.outcome == Outcome.FAILED]

    @property
    def reason(self) -> str:
        """The measurements that decided the outcome, in words."""
        deciding = [
            m
            for m in self.measurements
            if m.outcome == self.outcome and (m.kind == "judge" or m.outcome != Outcome.INCONCLUSIVE)
        ]
        return (
            "; ".join(m.message or m.name for m in deciding)
            if self.outcome != Outcome.SUCCESSFUL
            else "all measurements passed"
        )

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome.value,
            "measurements": [
                {k: _finite(v) for k, v in asdict(m).items()} | {"outcome": m.outcome.value}
                for m in self.measurements
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Verdict":
        measurements = tuple(
            Measurement(**{**m, "outcome": Outcome(m["outcome"])}) for m in data["measurements"]
        )
        return cls(Outcome(data["outcome"]), measurements)


def _finite(value: object) -> object:
    """JSON has no infinity: an unbounded interval end or an unreachable need is written null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
