"""Settings of a local raynomaly runtime, parsed once at the edge (CLI flags, environment).

Every port Ray and Serve use is explicit and settable, so two clusters can share a machine.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from models.settings import ModelSettings

INGRESSES = ("haproxy", "proxy")
RAY_WORKER_PORTS = (10002, 19999)
"""Ray's default worker port range: a dashboard or Serve port inside it makes `ray start` fail."""


@dataclass(frozen=True)
class Ports:
    """Ports of the local Ray head and Serve (all bound to 127.0.0.1)."""

    gcs: int = 6379
    dashboard: int = 8265
    http: int = 8000
    grpc: int = 9000
    metrics: int = 8080
    direct_http: tuple[int, int] = (30000, 31000)
    direct_grpc: tuple[int, int] = (40000, 41000)
    haproxy_metrics: int = 9101
    haproxy_stats: int = 8404
    fallback_http: int = 8500
    """Serve's own HTTP proxy behind HAProxy (HAProxy's fallback while a route has no replica)."""
    fallback_grpc: int = 9500

    @staticmethod
    def parse_range(text: str, flag: str) -> tuple[int, int]:
        """`LOW..HIGH` (pure); ValueError naming `flag` and the expected form."""
        low, separator, high = text.partition("..")
        try:
            bounds = (int(low), int(high))
        except ValueError:
            raise ValueError(f"{flag} {text!r}: use LOW..HIGH, e.g. 32000..33000") from None
        if not separator or not 1024 <= bounds[0] <= bounds[1] <= 65535:
            raise ValueError(f"{flag} {text!r}: use LOW..HIGH with 1024 <= LOW <= HIGH <= 65535")
        return bounds

    def ranges(self) -> dict[str, tuple[int, int]]:
        """The port ranges by flag name."""
        return {"--direct-http-ports": self.direct_http, "--direct-grpc-ports": self.direct_grpc}

    def named(self) -> dict[str, int]:
        """The single ports by flag name (for the port-in-use check)."""
        single = {"--ray-port": self.gcs, "--dashboard-port": self.dashboard, "--http-port": self.http}
        single |= {"--grpc-port": self.grpc, "--metrics-port": self.metrics}
        single |= {"--haproxy-metrics-port": self.haproxy_metrics, "--haproxy-stats-port": self.haproxy_stats}
        return single | {
            "--fallback-http-port": self.fallback_http,
            "--fallback-grpc-port": self.fallback_grpc,
        }


TLS_MODES = ("off", "self-signed", "files")


@dataclass(frozen=True)
class TlsSettings:
    """TLS in front of the local runtime: `off`, `self-signed` (a local CA's certificate) or `files`
    (the user's certificate and key); the terminator listens on `host` at the two ports."""

    mode: str = "off"
    cert: Path | None = None
    key: Path | None = None
    https_port: int = 8443
    grpcs_port: int = 9443
    host: str = "127.0.0.1"

    @classmethod
    def parse(cls, mode: str | None = None, cert=None, key=None, **ports) -> "TlsSettings":
        """`--tls MODE`, `--tls-cert`, `--tls-key` and the two ports (pure): a certificate and key
        without a mode mean `files`; ValueError naming the flags otherwise at odds."""
        if (cert is None) != (key is None):
            raise ValueError("--tls-cert and --tls-key go together: give both, or neither")
        mode = mode or ("files" if cert is not None else "off")
        if mode not in TLS_MODES:
            raise ValueError(f"--tls {mode!r}: choose one of {', '.join(TLS_MODES)}")
        if (mode == "files") != (cert is not None):
            raise ValueError(
                "--tls files needs --tls-cert and --tls-key"
                if cert is None
                else f"--tls-cert and --tls-key are for --tls files, not --tls {mode}"
            )
        paths = {"cert": Path(cert), "key": Path(key)} if cert is not None else {}
        settings = cls(mode=mode, **paths, **{k: v for k, v in ports.items() if v is not None})
        low, high = RAY_WORKER_PORTS
        for flag, port in {"--https-port": settings.https_port, "--grpcs-port": settings.grpcs_port}.items():
            if low <= port <= high:
                raise ValueError(f"{flag} {port}: inside Ray's worker port range {low}-{high}; pick another")
        return settings


DEFAULT_TRACING_SAMPLE = 0.01
"""Serve's own default share of traced requests, used when only `--otlp-endpoint` is given."""
OTLP_TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class TracingSettings:
    """Serve's built-in tracing: the share of requests traced (0: off; while on, a request that
    arrives with a sampled `traceparent` is traced whatever the share) and where the spans go: an
    OTLP/HTTP collector, or (None) Serve's span files in its log folder, `spans/`."""

    sample: float = 0.0
    otlp_endpoint: str | None = None

    @property
    def enabled(self) -> bool:
        return self.sample > 0

    @classmethod
    def parse(cls, sample: float | None = None, otlp_endpoint: str | None = None) -> "TracingSettings":
        """`--tracing-sample F` and `--otlp-endpoint URL` (pure): an endpoint alone traces at
        `DEFAULT_TRACING_SAMPLE`; an endpoint without a path gets OTLP's `/v1/traces`. ValueError
        naming the flag otherwise."""
        if sample is not None and not 0.0 <= sample <= 1.0:
            raise ValueError(f"--tracing-sample {sample}: give a share between 0 (off) and 1 (every request)")
        if otlp_endpoint is None:
            return cls(sample=sample or 0.0)
        parts = urlsplit(otlp_endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"--otlp-endpoint {otlp_endpoint!r}: give the collector's OTLP/HTTP address, "
                "e.g. http://127.0.0.1:4318"
            )
        if sample == 0.0:
            raise ValueError("--otlp-endpoint with --tracing-sample 0: tracing is off; drop one of them")
        endpoint = otlp_endpoint
        if parts.path in ("", "/"):
            endpoint = otlp_endpoint.rstrip("/") + OTLP_TRACES_PATH
        return cls(sample=DEFAULT_TRACING_SAMPLE if sample is None else sample, otlp_endpoint=endpoint)


@dataclass(frozen=True)
class RuntimeSettings:
    """Where local state lives and how the local Ray head is started."""

    state_dir: Path = Path(".raynomaly")
    store: str = ".raynomaly/models"
    keys: Path = Path(".raynomaly/keys")
    """The keys folder that signs and decrypts model versions (`models.keys`); replicas get its path."""
    ports: Ports = field(default_factory=Ports)
    ingress: str = "haproxy"
    """`haproxy`: HAProxy in front of throughput-optimised direct ingress; `proxy`: Serve's proxy."""
    num_cpus: int = 4
    """Logical CPUs Ray schedules with (replicas ask for fractions of one)."""
    tls: TlsSettings = field(default_factory=TlsSettings)
    replicas: tuple[int, int] | None = None
    """Gateway replicas: fixed when both are equal, else autoscaled between them; None: as recorded,
    else 2 where the machine has 2 cores or more."""
    tracing: TracingSettings = field(default_factory=TracingSettings)

    @classmethod
    def resolve(cls, environ: Mapping[str, str] = os.environ, **flags) -> "RuntimeSettings":
        """Flags that are not None win over `RAYNOMALY_*` variables, which win over defaults."""
        models = ModelSettings.resolve(flags.pop("store", None), environ)
        settings = cls(store=models.store, keys=models.keys)
        if "RAYNOMALY_HOME" in environ:
            settings = replace(settings, state_dir=Path(environ["RAYNOMALY_HOME"]))
        ports = {k: v for k, v in flags.pop("ports", {}).items() if v is not None}
        settings = replace(
            settings,
            ports=replace(settings.ports, **ports),
            **{k: v for k, v in flags.items() if v is not None},
        )
        if settings.ingress not in INGRESSES:
            raise ValueError(f"unknown ingress {settings.ingress!r}; choose one of {', '.join(INGRESSES)}")
        low, high = RAY_WORKER_PORTS
        inside = [f"{flag} {port}" for flag, port in settings.ports.named().items() if low <= port <= high]
        inside += [
            f"{flag} {a}..{b}" for flag, (a, b) in settings.ports.ranges().items() if a <= high and b >= low
        ]
        if inside:
            raise ValueError(
                f"{', '.join(inside)}: inside Ray's worker port range {low}-{high}, where Ray's own "
                "processes take ports; pick ports outside it"
            )
        return settings

    @staticmethod
    def parse_replicas(text: str) -> tuple[int, int]:
        """`N` or `MIN..MAX` (pure); ValueError naming the expected form."""
        low, separator, high = text.partition("..")
        try:
            bounds = (int(low), int(high if separator else low))
        except ValueError:
            raise ValueError(f"--replicas {text!r}: use N or MIN..MAX, e.g. 2 or 1..4") from None
        if not 1 <= bounds[0] <= bounds[1]:
            raise ValueError(f"--replicas {text!r}: need 1 <= MIN <= MAX")
        return bounds

    @property
    def token_path(self) -> Path:
        """The Ray cluster's auth token (0600): every Ray process and REST call presents it."""
        return self.state_dir / "ray" / "auth_token"

    @property
    def state_path(self) -> Path:
        """The record of the running runtime (its endpoints); gone after `down`."""
        return self.state_dir / "runtime.json"

    @property
    def served_path(self) -> Path:
        """The served state: what should serve, recorded before it is applied; kept after `down`."""
        return self.state_dir / "served.json"

    @property
    def tls_dir(self) -> Path:
        """Certificates (the local CA of `--tls self-signed`) and the TLS terminator's files."""
        return self.state_dir / "tls"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.dashboard}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"
