"""Cluster changes: a new image for the Ray cluster a target runs on, and how the cluster moves to
it (a new cluster switched to at once, or shifted to in increments). A typed value that rollouts and
targets share; a target that owns a cluster (KubeRay) carries it out."""

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
