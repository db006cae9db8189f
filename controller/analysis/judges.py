"""Sequential judges (pure): the candidate against the baseline over all of a step's traffic.

Every judge asks one one-sided question with a floor, "is the candidate worse by more than the
effect that matters?", and answers it from confidence sequences (`analysis.sequential`), so the
answer may be read at every look without inflating false alarms:

- Failed: its anytime-valid p-value is at most the judge's share of the rollout's alpha, i.e. the
  intervals exclude every world where the candidate is within the floor. A healthy candidate gets
  here with probability at most that share, over all looks of the step.
- Successful: no regression beyond the floor found (`message` says "within" when the intervals
  already exclude one).
- Inconclusive: no candidate traffic to judge.

`needed` is how many candidate samples would reveal a regression of twice the floor (computed on
the expected counts of such a candidate, shaped like the baseline): below it, a Successful judge has
not yet had the chance to see one, and `waiting_for` says how long that takes at the observed rate.

Each Measurement carries the effect estimate (`value`), its interval at the judge's alpha (`low`,
`high`), the floor (`threshold`), the p-value and the alpha share.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller.analysis.sequential import smallest_alpha
from controller.analysis.verdict import Measurement, Outcome
from controller.analysis.window import VersionWindow

MAX_SCALE = 1e4
"""The most traffic a step is assumed to gather, relative to now, when estimating what it needs."""


@dataclass(frozen=True)
class Arms:
    """The evidence a judge compares: the candidate's and, when there is one, the baseline's."""

    candidate: VersionWindow
    baseline: VersionWindow | None

    def scaled(self, factor: float) -> "Arms":
        """The same shares with `factor` times the counts (what the step would hold later)."""
        return Arms(_scale(self.candidate, factor), _scale(self.baseline, factor) if self.baseline else None)


Test = Callable[[Arms, float], tuple[bool, bool, float, float]]
"""(arms, alpha) -> (rejected: worse beyond the floor, cleared: within it, effect low, effect high)."""


@dataclass(frozen=True)
class Question:
    """One judge's sequential test over the current evidence, and what is reported with it."""

    test: Test
    alternative: Callable[[Arms], Arms]
    """The evidence as it would look with a regression of twice the floor (expected counts)."""
    estimate: float | None
    floor: float
    samples: float
    """Candidate samples the test reads (requests or rows)."""
    unit: str = ""


def judge(name: str, question: Question, arms: Arms, alpha: float, previous_p: float = 1.0) -> Measurement:
    """Run a sequential test and describe it (pure). `previous_p` is the judge's p-value at the
    step's earlier looks: the p-value reported is the running minimum, as the test allows."""
    test, estimate, floor, samples, unit = (
        question.test, question.estimate, question.floor, question.samples, question.unit,
    )  # fmt: skip
    if samples <= 0:
        message = f"{name}: no candidate traffic yet"
        return Measurement(name, Outcome.INCONCLUSIVE, None, floor, message, kind="judge", alpha=alpha)
    p_value = min(previous_p, smallest_alpha(lambda a: test(arms, a)[0]))
    _, cleared, low, high = test(arms, alpha)
    needed = needed_samples(test, question.alternative(arms), alpha, samples)
    if p_value <= alpha:
        outcome, verb = Outcome.FAILED, "worse beyond"
    else:
        outcome, verb = Outcome.SUCCESSFUL, "within" if cleared else "no regression found beyond"
    shown = "n/a" if estimate is None else f"{estimate:.3g}{unit}"
    message = (
        f"{name} {shown} [{low:.3g}, {high:.3g}] {verb} {floor:g}{unit}; "
        f"p={p_value:.2g} (alpha {alpha:.2g}), {samples:.0f} samples"
    )
    return Measurement(
        name, outcome, estimate, floor, message, kind="judge", p_value=p_value, alpha=alpha,
        low=low, high=high, samples=samples, needed=needed,
    )  # fmt: skip


def needed_samples(test: Test, alternative: Arms, alpha: float, samples: float) -> float:
    """Candidate samples at which `test` rejects on the expected counts of `alternative` (pure):
    the evidence that would reveal a regression of the given size; inf beyond MAX_SCALE."""
    if test(alternative, alpha)[0]:
        return samples
    if not test(alternative.scaled(MAX_SCALE), alpha)[0]:
        return math.inf
    low, high = 1.0, MAX_SCALE
    while high / low > 1.05:
        middle = math.sqrt(low * high)
        low, high = (low, middle) if test(alternative.scaled(middle), alpha)[0] else (middle, high)
    return samples * high


def _scale(window: VersionWindow, factor: float) -> VersionWindow:
    return VersionWindow(
        requests=window.requests * factor,
        server_errors=window.server_errors * factor,
        latency_bounds=window.latency_bounds,
        latency_cumulative=[c * factor for c in window.latency_cumulative],
        rows=window.rows * factor,
        anomalies=window.anomalies * factor,
        percentiles=window.percentiles * factor,
        agree=window.agree * factor,
        disagree=window.disagree * factor,
    )


def waiting_for(measurements: Iterable[Measurement], seconds: float) -> str:
    """What the judges still need to see a regression of twice their floor, in time at the
    candidate's observed rate (pure): "p99_ratio needs ~240 s more at 5.0/s"; "" when none does."""
    clauses = []
    for m in measurements:
        if m.kind != "judge" or m.outcome == Outcome.FAILED:
            continue
        if not m.samples:
            clauses.append(f"{m.name} has no candidate traffic yet")
            continue
        if m.needed <= m.samples:
            continue
        if seconds <= 0 or math.isinf(m.needed):
            clauses.append(f"{m.name} cannot see one at this traffic")
        else:
            rate = m.samples / seconds
            clauses.append(f"{m.name} needs ~{(m.needed - m.samples) / rate:.0f} s more at {rate:.1f}/s")
    return "; ".join(clauses)
