"""Measurements and verdicts: a value with a phase, so "no data" is never a bad or a good value;
and looks, the verdicts as a rollout's events record them."""

import enum
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field


class Outcome(enum.StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    """Too little data to judge (e.g. too few requests in the window)."""
    ERROR = "Error"
    """The measurement could not be taken (e.g. the metric source is unreachable)."""


INPUT = "input"
"""The kind of the input drift check (`analysis.inputs`)."""
COUNTED_WHEN_INCONCLUSIVE = frozenset({"judge", INPUT})
"""Kinds whose Inconclusive counts in a verdict: a judge without traffic, inputs that drifted or
were too few; a ceiling without enough traffic simply does not apply to the window."""

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
    """Candidate samples at which a regression of twice the floor would show (inf: out of reach;
    None: the judge had no traffic to run on)."""


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
        counted = [m.outcome for m in measurements if _counted(m)]
        worst = max(counted, key=RANK.__getitem__) if counted else Outcome.INCONCLUSIVE
        return cls(worst, tuple(measurements))

    def drifted(self) -> list[Measurement]:
        """The input checks that found the candidate's inputs drifted from its training data."""
        return [
            m for m in self.measurements
            if m.kind == INPUT and m.outcome == Outcome.INCONCLUSIVE and m.value is not None
        ]  # fmt: skip

    def failed(self, kind: str) -> list[Measurement]:
        """The Failed measurements of one kind."""
        return [m for m in self.measurements if m.kind == kind and m.outcome == Outcome.FAILED]

    @property
    def reason(self) -> str:
        """The measurements that decided the outcome, in words."""
        deciding = [m for m in self.measurements if m.outcome == self.outcome and _counted(m)]
        return (
            "; ".join(m.message or m.name for m in deciding)
            if self.outcome != Outcome.SUCCESSFUL
            else "all measurements passed"
        )

    def to_dict(self) -> dict:
        """The verdict as JSON, an infinity written null."""
        return {
            "outcome": self.outcome.value,
            "measurements": [
                {k: _finite(v) for k, v in asdict(m).items()} | {"outcome": m.outcome.value}
                for m in self.measurements
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Verdict":
        """Inverse of `to_dict`; records written before a field existed read with its default."""
        return cls(Outcome(data["outcome"]), tuple(_measurement(m) for m in data["measurements"]))


def _counted(m: Measurement) -> bool:
    return m.kind in COUNTED_WHEN_INCONCLUSIVE or m.outcome != Outcome.INCONCLUSIVE


VERDICT = "verdict"
"""The kind of the rollout event that records a look."""


@dataclass(frozen=True)
class Look:
    """One judged look as recorded: its verdict, the step it judged, the seconds of evidence the
    step had gathered, and each version's figures in the window (`window.describe`)."""

    verdict: Verdict
    step: int | None = None
    """None in records written before looks named their step."""
    evidence_s: float = 0.0
    versions: dict[str, dict | None] = field(default_factory=dict)

    def event(self, ts: float) -> dict:
        """The rollout event that records this look at `ts`."""
        detail = self.verdict.to_dict() | {
            "versions": self.versions, "step": self.step, "evidence_s": self.evidence_s,
        }  # fmt: skip
        return {"ts": ts, "kind": VERDICT, "name": self.verdict.outcome.value, "detail": detail}

    @classmethod
    def of(cls, event: dict) -> "Look":
        """The look a verdict event records (inverse of `event`)."""
        detail = event["detail"]
        return cls(
            Verdict.from_dict(detail),
            detail.get("step"),
            detail.get("evidence_s", 0.0),
            detail.get("versions") or {},
        )


def looks(events: Iterable[dict]) -> list[Look]:
    """The looks among a rollout's events, in their order."""
    return [Look.of(e) for e in events if e["kind"] == VERDICT]


def _finite(value: object) -> object:
    """JSON has no infinity: an unbounded interval end or an unreachable need is written null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


UNBOUNDED = {"low": -math.inf, "high": math.inf, "needed": math.inf}
"""What a tested judge's null interval ends and need stand for (`_finite` wrote them null)."""


def _measurement(data: dict) -> Measurement:
    """A stored measurement: a judge that ran (it has a p-value) always has an interval and a need,
    so a null there was an infinity."""
    restored = {
        name: infinity
        for name, infinity in UNBOUNDED.items()
        if data.get("p_value") is not None and data.get(name) is None
    }
    return Measurement(**(data | restored | {"outcome": Outcome(data["outcome"])}))
