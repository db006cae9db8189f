"""Cluster changes on KubeRay: a `ClusterChange` carried out by KubeRay's own `upgradeStrategy`
(a new cluster, switched to at once or shifted to in increments), and read back.

Pure: what a RayService runs now, and the guarded JSON patch that asks KubeRay for the change. Only
the containers that run the head's image change (a GPU group built from its own image keeps it).
"""

from controller.kuberay.errors import RESOURCE_VERSION, pointer
from controller.targets.cluster import ClusterChange, IncrementalUpgrade


def _groups(rayservice: dict) -> list[tuple[tuple, dict]]:
    """(path of the pod spec, pod spec) of the head group and every worker group."""
    config = rayservice["spec"]["rayClusterConfig"]
    groups = [(("headGroupSpec",), config["headGroupSpec"])]
    groups += [
        (("workerGroupSpecs", i), group) for i, group in enumerate(config.get("workerGroupSpecs") or [])
    ]
    return [
        (("spec", "rayClusterConfig", *path, "template", "spec"), g["template"]["spec"]) for path, g in groups
    ]


def cluster_of(rayservice: dict) -> ClusterChange:
    """The image the RayService's head runs now and its upgrade strategy (pure)."""
    head = rayservice["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    strategy = rayservice["spec"].get("upgradeStrategy") or {}
    incremental = None
    if strategy.get("type") == "NewClusterWithIncrementalUpgrade":
        options = strategy.get("clusterUpgradeOptions") or {}
        incremental = IncrementalUpgrade(
            step_size_percent=options["stepSizePercent"],
            interval_seconds=options["intervalSeconds"],
            max_surge_percent=options.get("maxSurgePercent", 100),
            gateway_class_name=options["gatewayClassName"],
        )
    return ClusterChange(image=head["image"], incremental=incremental)


def upgrade_operations(rayservice: dict, change: ClusterChange) -> list[dict]:
    """The JSON patch that asks KubeRay for `change`, valid only against the resourceVersion it
    was computed from (pure): every container running the head's image gets the new one."""
    current = cluster_of(rayservice).image
    version = rayservice["metadata"]["resourceVersion"]
    operations = [
        {"op": "replace", "path": RESOURCE_VERSION, "value": version},
        {"op": "add", "path": pointer("spec", "upgradeStrategy"), "value": change.upgrade_strategy()},
    ]
    for path, pod in _groups(rayservice):
        for index, container in enumerate(pod.get("containers") or []):
            if container.get("image") == current:
                image = pointer(*path, "containers", index, "image")
                operations.append({"op": "replace", "path": image, "value": change.image})
    return operations
