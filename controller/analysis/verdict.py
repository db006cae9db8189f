"""Measurements and verdicts: a value with a phase, so "no data" is never a bad or a good value."""

import enum
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
    """One judged value: `value` is None when it could not be measured."""

    name: str
    outcome: Outcome
    value: float | None = None
    threshold: float | None = None
    message: str = ""


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
        worst = max((m.outcome for m in measurements), key=RANK.__getitem__)
        return cls(worst, tuple(measurements))

    @property
    def reason(self) -> str:
        """The measurements that decided the outcome, in words."""
        deciding = [m for m in self.measurements if m.outcome == self.outcome]
        return (
            "; ".join(m.message or m.name for m in deciding)
            if self.outcome != Outcome.SUCCESSFUL
            else "all measurements passed"
        )

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome.value,
            "measurements": [asdict(m) | {"outcome": m.outcome.value} for m in self.measurements],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Verdict":
        measurements = tuple(
            Measurement(**{**m, "outcome": Outcome(m["outcome"])}) for m in data["measurements"]
        )
        return cls(Outcome(data["outcome"]), measurements)
