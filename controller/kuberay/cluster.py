"""Cluster changes: a new image for a RayService's Ray cluster, carried out by KubeRay's own
`upgradeStrategy` (a new cluster, switched to at once or shifted to in increments), and read back.

Pure: the change as a typed value, what a RayService runs now, and the guarded JSON patch that
asks KubeRay for the change. Only the containers that run the head's image change (a GPU group
built from its own image keeps it).
"""

from pydantic import BaseModel, ConfigDict, Field, field_validator

from controller.kuberay.errors import RESOURCE_VERSION, pointer


class IncrementalUpgrade(BaseModel):
    """KubeRay's `NewClusterWithIncrementalUpgrade` options (`clusterUpgradeOptions`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step_size_percent: int = Field(ge=1, le=100)
    interval_seconds: int = Field(ge=1)
    max_surge_percent: int = Field(default=100, ge=1, le=100)
    gateway_class_name: str = Field(min_length=1)

    @classmethod
    def parse(cls, text: str) -> "IncrementalUpgrade":
        """`step=PERCENT,interval=SECONDS,gateway=CLASS[,surge=PERCENT]` (CLI); ValueError names a bad key."""
        keys = {"step": "step_size_percent", "interval": "interval_seconds", "gateway": "gateway_class_name",
                "surge": "max_surge_percent"}  # fmt: skip
        values = {}
        for item in filter(None, text.split(",")):
            key, _, value = item.partition("=")
            if key not in keys or not value:
                raise ValueError(
                    f"incremental upgrade {item!r}: use step=PERCENT,interval=SECONDS,gateway=CLASS"
                )
            values[keys[key]] = value
        return cls(**values)


class ClusterChange(BaseModel):
    """The image a RayService's cluster should run, and how KubeRay moves to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str
    incremental: IncrementalUpgrade | None = None
    """None: `NewCluster` (KubeRay switches all traffic once the new cluster is ready)."""

    @field_validator("image")
    @classmethod
    def _image(cls, image: str) -> str:
        if not image or any(c.isspace() for c in image):
            raise ValueError(
                f"image {image!r}: give a container image reference, e.g. registry/raynomaly:1.2"
            )
        return image

    def upgrade_strategy(self) -> dict:
        """The RayService's `spec.upgradeStrategy` for this change."""
        if self.incremental is None:
            return {"type": "NewCluster"}
        options = self.incremental
        return {
            "type": "NewClusterWithIncrementalUpgrade",
            "clusterUpgradeOptions": {
                "stepSizePercent": options.step_size_percent,
                "intervalSeconds": options.interval_seconds,
                "maxSurgePercent": options.max_surge_percent,
                "gatewayClassName": options.gateway_class_name,
            },
        }


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
