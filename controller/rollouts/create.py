"""`new_rollout`: check a rollout request against what the model serves now (pure)."""

from controller.environments.records import Promotion
from controller.rollouts.spec import Rollout, RolloutSpec
from controller.rollouts.strategies import strategy_for
from controller.targets.spec import Served


class RolloutRefused(ValueError):
    """The request cannot start from what is served now; the message says what to do instead."""


def stable_of(served: Served) -> int | None:
    """The version serving 100% of the model's traffic; None if the model is not served;
    RolloutRefused if its traffic is split."""
    if served.traffic is None:
        return None
    full = [v for v, w in served.traffic.weights.items() if w == 100]
    if not full or served.traffic.shadows:
        table = ", ".join(f"v{v}={w}%" for v, w in sorted(served.traffic.weights.items()))
        mirrors = ", ".join(f"v{v}" for v in served.traffic.shadows)
        raise RolloutRefused(
            f"{table}{' mirrored to ' + mirrors if mirrors else ''}: the model is mid-change; settle it "
            "on one version first ('raynomaly traffic set MODEL V=100') or finish the rollout that split it"
        )
    return full[0]


def new_rollout(
    spec: RolloutSpec,
    served: Served,
    now: float,
    feature_bins: dict[str, int] | None = None,
    promotion: Promotion | None = None,
) -> Rollout:
    """The Pending record of `spec`, or RolloutRefused saying why it cannot start (pure).
    `feature_bins` are the candidate's (`models.drift.bin_counts` of its manifest); `promotion`, why
    it was promoted to an environment."""
    if spec.thresholds.max_input_drift is not None and not feature_bins:
        raise RolloutRefused(
            f"version {spec.candidate} of {spec.model} was published without feature bins, so its "
            "input drift cannot be measured: retrain it, or deploy without --max-input-drift"
        )
    stable = stable_of(served)
    if reason := strategy_for(spec.strategy).refused(spec, stable, served):
        raise RolloutRefused(reason)
    # A rolling update starts from the options serving now (its first step changes them); any other
    # candidate is not deployed yet, so it starts with the options it will be deployed with.
    previous = served.options.get(spec.candidate)
    return Rollout(
        spec=spec,
        stable=stable,
        traffic=served.traffic,
        options=previous if spec.rolling is not None else spec.options,
        previous_options=previous,
        previous_cluster=served.cluster if spec.upgrade is not None else None,
        feature_bins=feature_bins,
        environment=promotion.environment if promotion else None,
        promotion=promotion,
        created=now,
        updated=now,
    )
