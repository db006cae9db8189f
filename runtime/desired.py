"""The desired state of serving: which versions run with which options, and the traffic table.

One typed object, parsed at the edge (CLI, control API); `serveconfig.render` turns it into the
Serve config. Defaults follow what was measured on small machines: fractional CPUs so several
replicas fit, `max_ongoing_requests` well above batch size times callers (at Serve's default of
5 throughput collapses under 64 clients), and a bounded queue that sheds load with 503.
"""

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.traffic import TrafficTable


class Batching(BaseModel):
    """Dynamic batching of single-row requests; changes apply in place through `reconfigure()`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_batch_size: int = Field(default=64, ge=1, le=4096)
    batch_wait_timeout_s: float = Field(default=0.005, ge=0.0, le=1.0)


class Autoscaling(BaseModel):
    """Serve's replica autoscaling, by ongoing requests per replica."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=4, ge=1)
    target_ongoing_requests: float = Field(default=64.0, gt=0)
    upscale_delay_s: float = Field(default=2.0, ge=0)
    downscale_delay_s: float = Field(default=10.0, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> "Autoscaling":
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}")
        return self


class ScorerOptions(BaseModel):
    """Deployment options of one version's Scorer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_replicas: int = Field(default=1, ge=1)
    autoscaling: Autoscaling | None = None
    """When set, replaces `num_replicas`."""
    max_ongoing_requests: int = Field(default=256, ge=1)
    max_queued_requests: int = Field(default=2048, ge=-1)
    num_cpus: float = Field(default=0.5, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    """Above 0 the replica scores on a GPU, or refuses to start; never on the CPU instead."""
    batching: Batching = Field(default_factory=Batching)

    @model_validator(mode="after")
    def _concurrency(self) -> "ScorerOptions":
        if self.max_ongoing_requests < self.batching.max_batch_size:
            raise ValueError(
                f"max_ongoing_requests ({self.max_ongoing_requests}) must be at least max_batch_size "
                f"({self.batching.max_batch_size}), or batches can never fill"
            )
        return self


class GatewayOptions(BaseModel):
    """Deployment options of the gateway (HTTP ingress and gRPC target)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_replicas: int = Field(default=1, ge=1)
    max_ongoing_requests: int = Field(default=512, ge=1)
    max_queued_requests: int = Field(default=4096, ge=-1)
    num_cpus: float = Field(default=0.5, ge=0)
    shadow_max_in_flight: int = Field(default=64, ge=1)
    """Shadow copies in flight per gateway replica; beyond it copies are dropped and counted."""
    max_body_bytes: int = Field(default=64 * 2**20, ge=1024)
    max_rows: int = Field(default=100_000, ge=1)


class DeployedVersion(BaseModel):
    """A model version that runs as its own Serve application."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    version: int = Field(ge=1)
    options: ScorerOptions = Field(default_factory=ScorerOptions)

    @property
    def app_name(self) -> str:
        """`<model>--v<version>`, the Serve application name."""
        return app_name(self.model, self.version)


def app_name(model: str, version: int) -> str:
    """The Serve application of a model version."""
    return f"{model}--v{version}"


class Endpoints(BaseModel):
    """Where Serve listens (loopback by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    grpc_port: int = Field(default=9000, ge=1, le=65535)


class DesiredState(BaseModel):
    """Everything the Serve config is rendered from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: str
    versions: list[DeployedVersion] = Field(default_factory=list)
    traffic: TrafficTable = Field(default_factory=TrafficTable)
    gateway: GatewayOptions = Field(default_factory=GatewayOptions)
    endpoints: Endpoints = Field(default_factory=Endpoints)

    @model_validator(mode="after")
    def _consistent(self) -> "DesiredState":
        deployed = {(v.model, v.version) for v in self.versions}
        if len(deployed) != len(self.versions):
            raise ValueError("a model version is listed twice")
        for model, traffic in self.traffic.models.items():
            missing = [v for v in traffic.versions if (model, v) not in deployed]
            if missing:
                raise ValueError(f"traffic for {model} names versions that are not deployed: {missing}")
        return self
