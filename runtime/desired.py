"""The desired state of serving: which versions run where, with which options, and the traffic table.

One typed object, parsed at the edge (CLI, control API); `serveconfig.render` turns it into the
Serve config. A version is placed *inline* (the gateway's replicas load it and score in the
request's own coroutine: one hop) or *dedicated* (its own Serve application, reached through a
deployment handle: for GPUs, heavy models and isolation). Defaults follow what was measured on
small machines: fractional CPUs so several replicas fit, `max_ongoing_requests` well above batch
size times callers (at Serve's default of 5 throughput collapses under 64 clients), a bounded
queue that sheds load with 503, and no dynamic batching on the CPU (a compiled row costs ~1 us;
waiting for batch-mates only adds latency).
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from runtime.traffic import TrafficTable

INLINE, DEDICATED = "inline", "dedicated"
DEDICATED_ONLY = ("num_replicas", "autoscaling", "max_ongoing_requests", "max_queued_requests", "num_cpus")
"""Options of a version's own Serve deployment: they mean nothing for an inline version."""
MAX_REPLICAS, MAX_CPUS, MAX_GPUS = 1024, 256.0, 64.0
"""Upper bounds of one version's deployment: beyond them a request is a mistake, not a plan."""


class Batching(BaseModel):
    """Dynamic batching of small requests; changes apply in place through `reconfigure()`.
    `max_batch_size` 1 turns it off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_batch_size: int = Field(default=64, ge=1, le=4096)
    batch_wait_timeout_s: float = Field(default=0.005, ge=0.0, le=1.0)

    @property
    def enabled(self) -> bool:
        return self.max_batch_size > 1


NO_BATCHING = Batching(max_batch_size=1, batch_wait_timeout_s=0.0)


class ScorerSettings(BaseModel):
    """What a scoring replica changes in place for a version: its batching, and whether its inputs
    are counted (a dedicated version's `user_config`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batching: Batching = Field(default_factory=Batching)
    input_drift: bool = True


class Autoscaling(BaseModel):
    """Serve's replica autoscaling, by ongoing requests per replica."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    max_replicas: int = Field(default=4, ge=1, le=MAX_REPLICAS)
    target_ongoing_requests: float = Field(default=64.0, gt=0)
    upscale_delay_s: float = Field(default=2.0, ge=0)
    downscale_delay_s: float = Field(default=10.0, ge=0)
    metrics_interval_s: float = Field(default=2.0, gt=0)
    """How often replicas report their load."""
    look_back_period_s: float = Field(default=10.0, gt=0)
    """The window over which load is averaged before deciding."""

    @model_validator(mode="after")
    def _bounds(self) -> "Autoscaling":
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}")
        if self.look_back_period_s <= self.metrics_interval_s:
            raise ValueError(
                f"look_back_period_s {self.look_back_period_s:g} must exceed metrics_interval_s "
                f"{self.metrics_interval_s:g}: the window must hold more than one report"
            )
        return self


class ScorerOptions(BaseModel):
    """How one version is served: where (placement), batching, and its own deployment's options
    when dedicated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    placement: Literal["inline", "dedicated"] | None = None
    """None: dedicated when it asks for GPUs (or, decided at the edge from its manifest, when it is
    heavy), else inline."""
    num_replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    autoscaling: Autoscaling | None = None
    """When set, replaces `num_replicas`."""
    max_ongoing_requests: int = Field(default=256, ge=1, le=65_536)
    max_queued_requests: int = Field(default=2048, ge=-1, le=1_000_000)
    num_cpus: float = Field(default=0.5, ge=0, le=MAX_CPUS)
    num_gpus: float = Field(default=0.0, ge=0, le=MAX_GPUS)
    """Above 0 the replica scores on a GPU, or refuses to start; never on the CPU instead."""
    batching: Batching | None = None
    """None: off on the CPU (measured: it does not pay for compiled scorers), 64 rows / 5 ms on GPUs."""
    input_drift: bool = True
    """Count each scored feature value's training-quantile bin and the values out of the training
    range (input drift and data quality); off spares its cost (`benchmarks/bench_drift.py`). The
    gateway counts the missing and non-finite values of refused requests either way."""

    @model_validator(mode="after")
    def _consistent(self) -> "ScorerOptions":
        if self.placement == INLINE and self.num_gpus > 0:
            raise ValueError('a version with num_gpus > 0 is served dedicated: drop "placement": "inline"')
        fields = type(self).model_fields
        given = [name for name in DEDICATED_ONLY if getattr(self, name) != fields[name].default]
        if given and self.effective_placement != DEDICATED:
            raise ValueError(
                f'{", ".join(given)} configure a version\'s own deployment: add "placement": "dedicated" '
                "(an inline version scales with the gateway: raynomaly up --replicas)"
            )
        if self.max_ongoing_requests < self.effective_batching.max_batch_size:
            raise ValueError(
                f"max_ongoing_requests ({self.max_ongoing_requests}) must be at least max_batch_size "
                f"({self.effective_batching.max_batch_size}), or batches can never fill"
            )
        return self

    @property
    def effective_placement(self) -> str:
        """`placement`, or dedicated for GPU versions and inline otherwise (pure)."""
        return self.placement or (DEDICATED if self.num_gpus > 0 else INLINE)

    @property
    def effective_batching(self) -> Batching:
        """`batching`, or the default of the device: off on CPUs, 64 rows / 5 ms on GPUs (pure)."""
        if self.batching is not None:
            return self.batching
        return Batching() if self.num_gpus > 0 else NO_BATCHING

    @property
    def settings(self) -> ScorerSettings:
        """What the scoring replica applies in place: effective batching and the input drift switch."""
        return ScorerSettings(batching=self.effective_batching, input_drift=self.input_drift)


class Access(BaseModel):
    """Inference authentication and quotas of the gateway (absent: anyone may score, unlimited)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret_file: str
    """The file holding the token signing secret (the control API's)."""
    revoked_file: str | None = None
    """Ids of revoked tokens, one per line; a missing file revokes none."""
    rate: float = Field(default=1000.0, gt=0, le=1e6)
    """Requests/s per client, unless its token says otherwise."""
    burst: int = Field(default=2000, ge=1, le=10_000_000)
    """Requests a client may send at once, unless its token names a rate (then: one second's worth)."""
    max_clients: int = Field(default=10_000, ge=1, le=1_000_000)
    """Clients remembered per replica (buckets and verified tokens); the least recent go first."""


class GatewayLimits(BaseModel):
    """What each gateway replica enforces by itself; part of its `user_config` (`GatewayConfig`), so a
    change applies in place."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shadow_max_in_flight: int = Field(default=64, ge=1)
    """Shadow copies in flight per gateway replica; beyond it copies are dropped and counted."""
    max_body_bytes: int = Field(default=64 * 2**20, ge=1024)
    max_rows: int = Field(default=100_000, ge=1)
    max_inline_versions: int = Field(default=8, ge=1)
    """Versions each gateway replica may hold in memory; more are refused (place some dedicated)."""
    access: Access | None = None
    """Who may score and how often (`runtime.access`); None: anyone, unlimited (`up --insecure-no-auth`)."""


class GatewayOptions(GatewayLimits):
    """Options of the gateway (HTTP ingress, gRPC target, and inline scoring): its limits and its
    Serve deployment's options."""

    num_replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    autoscaling: Autoscaling | None = None
    """When set, replaces `num_replicas`: replicas follow ongoing requests."""
    max_ongoing_requests: int = Field(default=512, ge=1)
    max_queued_requests: int = Field(default=4096, ge=-1)
    num_cpus: float = Field(default=0.5, ge=0)


class DeployedVersion(BaseModel):
    """A model version that runs as its own Serve application."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    version: int = Field(ge=1)
    options: ScorerOptions = Field(default_factory=ScorerOptions)

    @property
    def app_name(self) -> str:
        """`<model>--v<version>`, the Serve application name (when dedicated)."""
        return app_name(self.model, self.version)

    @property
    def inline(self) -> bool:
        """Whether the gateway's replicas score this version themselves."""
        return self.options.effective_placement == INLINE


GATEWAY_APP = "gateway"


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
    revision: int = Field(default=0, ge=0)
    """The served record's revision this state was recorded as (`runtime.record`); 0: not recorded."""
    draining: list[DeployedVersion] = Field(default_factory=list)
    """Dedicated applications kept running while the gateway moves their version inline, so that
    no request reaches an application being deleted; the next state drops them."""

    @model_validator(mode="after")
    def _consistent(self) -> "DesiredState":
        deployed = {(v.model, v.version) for v in self.versions}
        if len(deployed) != len(self.versions):
            raise ValueError("a model version is listed twice")
        for model, traffic in self.traffic.models.items():
            missing = [v for v in traffic.versions if (model, v) not in deployed]
            if missing:
                raise ValueError(f"traffic for {model} names versions that are not deployed: {missing}")
        inline = [f"{v.model}:{v.version}" for v in self.versions if v.inline]
        if len(inline) > self.gateway.max_inline_versions:
            raise ValueError(
                f"{len(inline)} inline versions ({', '.join(inline)}) are more than each gateway replica "
                f"holds (max_inline_versions {self.gateway.max_inline_versions}); remove unrouted versions, "
                'place some with "placement": "dedicated", or raise the bound'
            )
        return self

    def with_access(self, access: Access | None) -> "DesiredState":
        """This state with the gateway's inference access replaced (None: open to anyone)."""
        return self.model_copy(update={"gateway": self.gateway.model_copy(update={"access": access})})

    @property
    def dedicated(self) -> list[DeployedVersion]:
        """Versions that run as their own Serve application (draining ones included)."""
        return [v for v in self.versions if not v.inline] + list(self.draining)

    @property
    def applications(self) -> list[str]:
        """Every Serve application this state runs: the gateway and the dedicated versions."""
        return [GATEWAY_APP, *(v.app_name for v in self.dedicated)]


class GatewayConfig(GatewayLimits):
    """The gateway's `user_config`: traffic table, where each version is scored, and the limits
    (replaced whole, atomically). Rendered from the desired state (`gateway_config`), validated by
    every gateway replica."""

    revision: int = 0
    """The served record's revision (`runtime.record`) this table was recorded as."""
    replicas: int = Field(default=1, ge=1)
    """Gateway replicas sharing each client's quota (the fewest an autoscaled gateway runs)."""
    traffic: TrafficTable = Field(default_factory=TrafficTable)
    store: str = ""
    versions: list[DeployedVersion] = Field(default_factory=list)
    """Every version the table routes or mirrors to, with its placement and batching."""

    @field_serializer("versions")
    def _short(self, versions: list[DeployedVersion]) -> list[dict]:
        # options left at their defaults are left out: the Serve config stays short and readable
        return [v.model_dump(mode="json", exclude_defaults=True) for v in versions]

    @model_validator(mode="after")
    def _complete(self) -> "GatewayConfig":
        placed = {(v.model, v.version) for v in self.versions}
        for model, traffic in self.traffic.models.items():
            missing = [v for v in traffic.versions if (model, v) not in placed]
            if missing:
                raise ValueError(f"the table routes {model} to versions it does not place: {missing}")
        inline = sum(v.inline for v in self.versions)
        if inline > self.max_inline_versions:
            raise ValueError(f"{inline} inline versions, over max_inline_versions {self.max_inline_versions}")
        return self


def gateway_config(desired: DesiredState) -> GatewayConfig:
    """What the gateway's replicas serve `desired` with: its table, versions and limits (pure)."""
    gateway = desired.gateway
    limits = gateway.model_dump(include=set(GatewayLimits.model_fields))
    replicas = max(1, gateway.autoscaling.min_replicas) if gateway.autoscaling else gateway.num_replicas
    return GatewayConfig(
        revision=desired.revision, replicas=replicas, traffic=desired.traffic, store=desired.store,
        versions=desired.versions, **limits,
    )  # fmt: skip
