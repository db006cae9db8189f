"""A model version's record as the control API shows it: what its manifest says (summary, training,
parity), what each rollout of it saw at its latest look, and where it serves now, per environment.

What a rollout saw (`seen`) is its latest look: the candidate's figures in that look's window
(`requests`, `p50_ms`, `p99_ms`, `error_rate`, `anomaly_rate`, and `psi_reference`, its score drift
as the PSI of its score percentiles against its training reference), and every measurement of the
verdict as judged (`p99_ms` and `error_rate`: the candidate's own values against their ceilings;
`latency`: the worst ratio of a candidate latency quantile to the stable's; `error_share`: the
candidate's share of the server errors; `ks_reference` and `ks_stable`: the KS distance of its
scores from its reference and from the stable's; each judge with its p-value)."""

from collections.abc import Callable, Sequence

from controller.analysis.verdict import Look
from controller.environments.history import environment_of
from controller.environments.spec import Environments
from controller.rollouts.spec import Rollout
from controller.targets.spec import Target, TargetError, TargetRef
from models.manifest import Manifest
from runtime.traffic import ModelTraffic

SUMMARY = {"model", "version", "detector", "backend", "n_features", "threshold", "created_at"}
TRAINING = {"source", "source_sha256", "rows", "fit_rows", "holdout_rows"}
FIGURES = ("requests", "p50_ms", "p99_ms", "error_rate", "anomaly_rate", "psi_reference")
"""The candidate's figures in a look's window (`analysis.window.describe`)."""
Traffic = ModelTraffic | None | TargetError
"""A model's traffic on a target (None: not served there), or why the target did not say."""
JUDGED = ("name", "kind", "outcome", "value", "threshold", "p_value")
"""What is shown of each measurement of a verdict."""


def where_served(
    environments: Environments, targets: Callable[[TargetRef], Target], model: str
) -> dict[str, tuple[TargetRef, Traffic]]:
    """Each environment's target and the model's traffic there now (None: not served there), or
    the TargetError of a target that did not answer; each target asked once."""
    asked: dict[TargetRef, Traffic] = {}
    for environment in environments.environments.values():
        if environment.target not in asked:
            try:
                asked[environment.target] = targets(environment.target).served(model).traffic
            except TargetError as e:
                asked[environment.target] = e
    return {name: (e.target, asked[e.target]) for name, e in environments.environments.items()}


def version_record(
    manifest: Manifest,
    rollouts: Sequence[Rollout],
    latest_look: Callable[[str], Look | None],
    served: dict[str, tuple[TargetRef, Traffic]],
) -> dict:
    """The version's record (pure but for `latest_look`, which reads a rollout's latest look)."""
    version = manifest.version
    return {
        **manifest.model_dump(mode="json", include=SUMMARY),
        "training": manifest.training.model_dump(mode="json", include=TRAINING),
        "parity": manifest.parity.model_dump(mode="json"),
        "rollouts": [_rollout(r, latest_look(r.id)) for r in rollouts if r.spec.candidate == version],
        "environments": {name: _share(ref, traffic, version) for name, (ref, traffic) in served.items()},
    }


def _rollout(rollout: Rollout, look: Look | None) -> dict:
    """A rollout of the version and what its latest look saw of it (None before its first look)."""
    return {
        "rollout": rollout.id,
        "environment": environment_of(rollout),
        "strategy": rollout.spec.strategy,
        "phase": rollout.phase.value,
        "created": rollout.created,
        "updated": rollout.updated,
        "seen": None if look is None else _seen(look, rollout.spec.candidate),
    }


def _seen(look: Look, candidate: int) -> dict:
    figures = look.versions.get(str(candidate))
    verdict = look.verdict.to_dict()
    return {
        "outcome": verdict["outcome"],
        "step": look.step,
        "evidence_s": look.evidence_s,
        "candidate": None if figures is None else {k: figures.get(k) for k in FIGURES},
        "measurements": [{k: m[k] for k in JUDGED} for m in verdict["measurements"]],
    }


def _share(ref: TargetRef, traffic: Traffic, version: int) -> dict:
    """The version's weight and shadow percent on an environment's target, or why they are unknown."""
    if isinstance(traffic, TargetError):
        return {"target": str(ref), "error": f"{traffic}; retry, or check 'raynomaly status'"}
    weights, shadows = (traffic.weights, traffic.shadows) if traffic is not None else ({}, {})
    return {"target": str(ref), "weight": weights.get(version, 0), "shadow": shadows.get(version, 0.0)}
