"""Builders of rollout records and verdicts for the controller's unit tests."""

from controller.analysis.verdict import Measurement, Outcome, Verdict
from controller.rollouts.spec import Rollout, RolloutSpec
from controller.rollouts.strategies import strategy_for
from runtime.traffic import ModelTraffic


def rollout(
    strategy: str = "canary",
    options: dict | None = None,
    *,
    stable: int | None = 1,
    candidate: int = 2,
    **spec,
) -> Rollout:
    """A Pending rollout of fraud v`candidate` over v`stable` serving 100%, by `strategy` with
    `options` (its defaults unless given)."""
    traffic = ModelTraffic(weights={stable: 100}) if stable is not None else None
    chosen = {strategy_for(strategy).field: options or {}}
    return Rollout(
        spec=RolloutSpec(model="fraud", candidate=candidate, **chosen, **spec),
        stable=stable, traffic=traffic, created=0.0, updated=0.0,
    )  # fmt: skip


def verdict(outcome: Outcome, name: str = "p99_ms", kind: str = "ceiling") -> Verdict:
    """A look whose one measurement has `outcome`: a ceiling of the window, unless `kind` says."""
    return Verdict.of([Measurement(name, outcome, 1.0, 1.5, f"{name} was {outcome.value}", kind=kind)])


OK, FAILED = verdict(Outcome.SUCCESSFUL), verdict(Outcome.FAILED)
INCONCLUSIVE = verdict(Outcome.INCONCLUSIVE, "latency", "judge")
ERROR = verdict(Outcome.ERROR, "metrics", "metrics")
JUDGED_WORSE = verdict(Outcome.FAILED, "latency", "judge")
