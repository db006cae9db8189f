"""A RayService as the KubeRay target sees it (pure): the desired state it carries, the JSON patch
that changes it, and what its status says about readiness and cluster upgrades.

The desired state lives next to the Serve config it renders, in the `raynomaly.io/desired-state`
annotation, and both are written by one JSON patch guarded by `metadata.resourceVersion`: they can
never disagree, and a concurrent writer makes the patch fail with 409 instead of being overwritten.
"""

import yaml
from pydantic import ValidationError

from controller.kuberay.errors import pointer
from runtime.desired import DesiredState
from runtime.serveconfig import render, validate
from runtime.serving import applications_awaited

ANNOTATION = "raynomaly.io/desired-state"
_ANNOTATION_PATH = pointer("metadata", "annotations", ANNOTATION)
UPGRADE_CONDITIONS = ("UpgradeInProgress", "RollbackInProgress")


class NotManaged(ValueError):
    """The RayService carries no (valid) raynomaly desired state."""


def desired_of(rayservice: dict) -> DesiredState:
    """The desired state in the RayService's annotation (pure); NotManaged if absent or invalid."""
    name = rayservice.get("metadata", {}).get("name")
    text = rayservice.get("metadata", {}).get("annotations", {}).get(ANNOTATION)
    if text is None:
        raise NotManaged(
            f"RayService {name} has no {ANNOTATION} annotation; create it with 'raynomaly kuberay apply'"
        )
    try:
        return DesiredState.model_validate_json(text)
    except ValidationError as e:
        raise NotManaged(f"RayService {name}: the {ANNOTATION} annotation is not a desired state: {e}") from e


def operations(rayservice: dict, desired: DesiredState) -> list[dict]:
    """The JSON patch (RFC 6902) that makes the RayService serve `desired`, valid only against the
    resourceVersion it was computed from (pure but for Ray's schema check of the Serve config)."""
    config = validate(render(desired))
    return [
        {
            "op": "replace",
            "path": "/metadata/resourceVersion",
            "value": rayservice["metadata"]["resourceVersion"],
        },
        {"op": "replace", "path": "/spec/serveConfigV2", "value": yaml.safe_dump(config, sort_keys=False)},
        {"op": "replace", "path": _ANNOTATION_PATH, "value": desired.model_dump_json()},
    ]


def _conditions(status: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in status.get("conditions") or []}


def upgrade(rayservice: dict) -> str | None:
    """Why KubeRay is busy with a cluster (upgrade, rollback or a pending cluster), else None (pure)."""
    status = rayservice.get("status") or {}
    for kind, condition in _conditions(status).items():
        if kind in UPGRADE_CONDITIONS and condition.get("status") == "True":
            detail = condition.get("message") or condition.get("reason") or ""
            return f"KubeRay reports {kind} ({detail})".replace(" ()", "")
    pending = (status.get("pendingServiceStatus") or {}).get("rayClusterName")
    if pending:
        return f"KubeRay is preparing the pending cluster {pending}"
    return None


def readiness(rayservice: dict, desired: DesiredState) -> str | None:
    """None when the RayService serves `desired`, else what is still awaited (pure), like the
    local runtime's `serving.readiness`. DeployFailed with Serve's reason for an application it
    failed to deploy, so that the rollout fails instead of waiting forever.

    Ready means KubeRay has reconciled the latest generation, no cluster is being upgraded, and the
    active cluster runs every desired application.
    """
    metadata, status = rayservice.get("metadata", {}), rayservice.get("status") or {}
    generation, observed = metadata.get("generation", 0), status.get("observedGeneration", 0)
    if observed < generation:
        return f"KubeRay to reconcile generation {generation} (observed {observed})"
    busy = upgrade(rayservice)
    if busy is not None:
        return busy
    applications = (status.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
    waiting = applications_awaited(applications, desired.applications)
    if waiting is not None:
        return waiting
    ready = _conditions(status).get("Ready")
    if ready is not None and ready.get("status") != "True":
        return f"the RayService to be Ready ({ready.get('reason', '')}: {ready.get('message', '')})"
    return None
