"""Which version of a model served each environment, and when (pure functions of the rollout
records).

A rollout that succeeded with a strategy that moves traffic (canary, blue-green) switched its
environment to its candidate when it promoted (`promoted_at`, else its last save); nothing else
changes what serves: a rollback, an abort or a failure leaves the stable in place, and a shadow or
an in-place change (rolling, upgrade) never answers callers with another version. The stable of an
environment's first rollout served before it, since a time the records do not know. A rollout still
running is shown as an open entry "in progress" that never answers "which version served at t".

An environment is the one a rollout was promoted to; a direct deploy (no environment) is grouped
under its target (`local`, `kuberay:serving/fraud`), so it can still be asked about.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from controller.rollouts.spec import Rollout
from controller.rollouts.state import Phase
from controller.rollouts.strategies import strategy_for


@dataclass(frozen=True)
class Period:
    """`version` served all of `environment`'s traffic from `start` to `end`, or, `in_progress`,
    is being rolled out there by `rollout` since `start`."""

    environment: str
    version: int
    start: float | None
    """When it began serving; None: before the records begin (it served when `known_from`)."""
    end: float | None
    """When another version took over; None: it still serves (or is still being rolled out)."""
    known_from: float
    """The earliest time the records show it serving: `start`, or the first rollout's creation."""
    rollout: str | None
    """The rollout that switched the environment to it (None: it served before the first)."""
    how: str
    """The strategy that switched to it, `before the records` or `<strategy>, <phase>` in progress."""
    in_progress: bool = False

    def holds(self, at: float) -> bool:
        """Whether the version served all of the environment's traffic at `at` (pure)."""
        return not self.in_progress and self.known_from <= at and (self.end is None or at < self.end)


def environment_of(rollout: Rollout) -> str:
    """The environment a rollout belongs to: the one it was promoted to, else its target's name."""
    return rollout.environment if rollout.environment is not None else str(rollout.spec.target)


def switched_at(rollout: Rollout) -> float | None:
    """When the rollout made its candidate serve all traffic, or None where it did not (pure)."""
    if rollout.phase != Phase.SUCCEEDED or not strategy_for(rollout.spec.strategy).moves_traffic:
        return None
    return rollout.promoted_at if rollout.promoted_at is not None else rollout.updated


def periods(model: str, rollouts: Iterable[Rollout], environment: str | None = None) -> list[Period]:
    """Every period of `model` in every environment (or only `environment`), newest first: the
    rollouts in progress, then each served version by when it began (pure)."""
    by_environment: dict[str, list[Rollout]] = {}
    for rollout in rollouts:
        where = environment_of(rollout)
        if rollout.spec.model == model and environment in (None, where):
            by_environment.setdefault(where, []).append(rollout)
    found = [p for where, own in sorted(by_environment.items()) for p in _environment(where, own)]
    return sorted(found, key=lambda p: (p.in_progress, p.known_from), reverse=True)


def _environment(environment: str, rollouts: list[Rollout]) -> list[Period]:
    """The periods of one environment, oldest first (pure)."""
    ordered = sorted(rollouts, key=lambda r: r.created)
    found: list[Period] = []
    first = ordered[0]
    if first.stable is not None:
        found.append(Period(environment, first.stable, None, None, first.created, None, "before the records"))
    for rollout in ordered:
        at = switched_at(rollout)
        if at is not None:
            if found:
                found[-1] = _ended(found[-1], at)
            found.append(Period(environment, rollout.spec.candidate, at, None, at, rollout.id,
                                rollout.spec.strategy))  # fmt: skip
    running = [
        Period(environment, r.spec.candidate, r.created, None, r.created, r.id,
               f"{r.spec.strategy}, {r.phase.value}", in_progress=True)
        for r in ordered if r.active
    ]  # fmt: skip
    return found + running


def _ended(period: Period, at: float) -> Period:
    return Period(period.environment, period.version, period.start, at, min(period.known_from, at),
                  period.rollout, period.how)  # fmt: skip


def serving_at(found: Sequence[Period], at: float) -> list[Period]:
    """The periods holding `at`, one per environment at most (pure)."""
    return [p for p in found if p.holds(at)]


def first_known(found: Sequence[Period]) -> float | None:
    """The earliest time any of the periods is known to hold, or None when there is none (pure)."""
    return min((p.known_from for p in found if not p.in_progress), default=None)
