"""Deleting model versions through the control API: a version is refused while it serves or takes
part in an active rollout, and every deletion leaves an audit entry naming who deleted which
versions. The check is one pure function; `delete_versions` is the shell around it."""

from controller.rollouts.spec import Rollout
from controller.store.spec import RolloutStore
from controller.targets.spec import Target
from models.store import ModelStore
from runtime.traffic import ModelTraffic


class VersionInUse(Exception):
    """A version to delete serves traffic or takes part in an active rollout (409)."""


def uses(versions: list[int], traffic: ModelTraffic | None, rollouts: list[Rollout]) -> dict[int, list[str]]:
    """Pure: what uses each of `versions` (only those used): the served table (weights, shadows)
    and the active rollouts of the model (stable, candidate)."""
    found: dict[int, list[str]] = {}
    for version in versions:
        what = []
        if traffic is not None and version in traffic.weights:
            what.append(f"the served table ({traffic.weights[version]}% of traffic)")
        if traffic is not None and version in traffic.shadows:
            what.append(f"the served table (shadow of {traffic.shadows[version]:g}%)")
        for rollout in rollouts:
            if version == rollout.stable:
                what.append(f"rollout {rollout.id} (stable)")
            if version == rollout.spec.candidate:
                what.append(f"rollout {rollout.id} (candidate)")
        if what:
            found[version] = what
    return found


def delete_versions(
    model: str, versions: list[int], models: ModelStore, store: RolloutStore, target: Target, actor: str
) -> list[int]:
    """Delete `versions` of `model` unless something uses one (VersionInUse naming it, nothing
    deleted); the versions deleted, recorded in the audit log even when a later one fails."""
    for version in versions:
        models.resolve(model, version)  # ModelNotFound (404) before anything else is said
    used = uses(versions, target.served(model).traffic, store.list(model, active=True))
    if used:
        named = "; ".join(f"version {v}: {', '.join(what)}" for v, what in used.items())
        raise VersionInUse(
            f"{model} cannot be deleted while in use ({named}); roll it out of traffic or end the "
            "rollout first, then delete again"
        )
    deleted: list[int] = []
    try:
        for version in versions:
            models.delete(model, version)
            deleted.append(version)
    finally:
        if deleted:
            store.record_action(actor, "delete", None, {"model": model, "versions": deleted})
    return deleted
