"""Settings of the controller and its clients, parsed once at the edge (CLI flags, environment)."""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from runtime.settings import RuntimeSettings

DEFAULT_PORT = 8600


@dataclass(frozen=True)
class ControllerSettings:
    """Where the controller listens, keeps its records and secrets, and reads metrics."""

    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    host: str = "127.0.0.1"
    """Where the control API listens: loopback unless told otherwise (in a pod: 0.0.0.0)."""
    port: int = DEFAULT_PORT
    url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    """Where clients (the CLI) reach the control API."""
    token: str | None = None
    """The bearer token clients present; default: the admin token `up` wrote."""
    prometheus_url: str | None = None
    """Read metrics through this Prometheus server's HTTP API instead of scraping Ray directly."""
    metrics_url: str | None = None
    """Scrape this Ray metrics endpoint (default: the local runtime's)."""
    gateway_url: str | None = None
    """Where the Locust gate sends load (default: the local runtime's HTTP address)."""
    kubeconfig: str | None = None
    """Credentials of the kuberay target (default: in-cluster, else KUBECONFIG or ~/.kube/config)."""
    kube_context: str | None = None
    rate_per_s: float = 20.0
    burst: int = 40
    rate_keys: int = 10_000
    """Clients whose rate buckets are remembered; the least recently seen is forgotten first."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses of reverse proxies whose X-Forwarded-For is believed (none: the peer's address is
    the client's, so a client cannot choose its own rate-limit bucket)."""
    environments: Path | None = None
    """The environments file (default: `environments.yaml` in the working folder where it exists,
    else dev and production on the local runtime; `controller.environments.spec`)."""
    tick_s: float = 0.5
    tls_cert: Path | None = None
    """The control API's certificate (PEM); with `tls_key` it serves HTTPS, TLS 1.3 only."""
    tls_key: Path | None = None
    ca: Path | None = None
    """The CA clients verify an https control API with (default: the local CA, `<state>/tls/ca.pem`,
    where `up --tls self-signed` made one, else the system's trust store)."""

    @classmethod
    def resolve(cls, environ: Mapping[str, str] = os.environ, **flags) -> "ControllerSettings":
        """Flags that are not None win over `RAYNOMALY_*` variables, which win over defaults;
        ValueError names a bad variable."""
        settings = cls(runtime=RuntimeSettings.resolve(environ, store=flags.pop("store", None)))
        variables = {
            "port": ("RAYNOMALY_CONTROLLER_PORT", int),
            "url": ("RAYNOMALY_CONTROLLER_URL", str),
            "token": ("RAYNOMALY_TOKEN", str),
            "prometheus_url": ("RAYNOMALY_PROMETHEUS_URL", str),
            "metrics_url": ("RAYNOMALY_METRICS_URL", str),
            "gateway_url": ("RAYNOMALY_GATEWAY_URL", str),
            "rate_per_s": ("RAYNOMALY_RATE_LIMIT", float),
            "burst": ("RAYNOMALY_RATE_BURST", int),
            "trusted_proxies": ("RAYNOMALY_TRUSTED_PROXIES", comma_separated_ip_addresses),
            "tls_cert": ("RAYNOMALY_CONTROLLER_TLS_CERT", Path),
            "tls_key": ("RAYNOMALY_CONTROLLER_TLS_KEY", Path),
            "ca": ("RAYNOMALY_CA", Path),
            "environments": ("RAYNOMALY_ENVIRONMENTS", Path),
        }
        values = {}
        for key, (variable, kind) in variables.items():
            if variable in environ:
                try:
                    values[key] = kind(environ[variable])
                except ValueError:
                    raise ValueError(
                        f"{variable}={environ[variable]!r} is not a valid {kind.__name__.replace('_', ' ')}"
                    ) from None
        values |= {k: v for k, v in flags.items() if v is not None}
        if (values.get("tls_cert") is None) != (values.get("tls_key") is None):
            raise ValueError(
                "the control API's TLS needs both a certificate and its key: set both "
                "RAYNOMALY_CONTROLLER_TLS_CERT and RAYNOMALY_CONTROLLER_TLS_KEY "
                "(--tls-cert, --tls-key), or neither"
            )
        scheme = "https" if values.get("tls_cert") else "http"
        recorded = settings.url_path.read_text().strip() if settings.url_path.exists() else None
        if (
            "url" not in values
            and recorded
            and ("port" not in values or recorded.endswith(f":{values['port']}"))
        ):
            values["url"] = recorded  # the controller `up` started there (https when it serves TLS)
        if "url" not in values and ("port" in values or scheme == "https"):
            values["url"] = f"{scheme}://127.0.0.1:{values.get('port', settings.port)}"
        return replace(settings, **values)

    @property
    def folder(self) -> Path:
        return self.runtime.state_dir / "controller"

    @property
    def database(self) -> Path:
        """The rollout store: one SQLite file next to the model store."""
        return self.runtime.state_dir / "rollouts.db"

    @property
    def secret_path(self) -> Path:
        return self.folder / "jwt_secret"

    @property
    def revoked_path(self) -> Path:
        """Revoked token ids, for the gateway (`controller.revocations`)."""
        return self.folder / "revoked_tokens"

    @property
    def client_key_path(self) -> Path:
        """The local runtime's inference key (a client token `up` mints for this machine's user)."""
        return self.folder / "client_token"

    @property
    def admin_token_path(self) -> Path:
        return self.folder / "admin_token"

    @property
    def pid_path(self) -> Path:
        return self.folder / "controller.pid"

    @property
    def log_path(self) -> Path:
        return self.folder / "controller.log"

    def inference_key(self) -> str | None:
        """The key the CLI presents to the gateway: the local client key `up` minted, else the
        control API's token (any role may score)."""
        if self.client_key_path.exists():
            return self.client_key_path.read_text().strip()
        return self.client_token()

    @property
    def tls_path(self) -> Path:
        """The certificate and key the background controller serves HTTPS with (one path per line)."""
        return self.folder / "tls"

    def with_recorded_tls(self) -> "ControllerSettings":
        """These settings serving HTTPS with the certificate the last background controller used, when
        it served HTTPS and none is given (`controller start` restarts it as it was)."""
        if self.tls_cert is not None or not self.url.startswith("https:") or not self.tls_path.exists():
            return self
        cert, key = self.tls_path.read_text().splitlines()[:2]
        return replace(self, tls_cert=Path(cert), tls_key=Path(key))

    @property
    def url_path(self) -> Path:
        """Where the background controller records its URL (https when it serves TLS) for the CLI."""
        return self.folder / "url"

    def client_ca(self) -> Path | None:
        """The CA file an https control API is verified with: `RAYNOMALY_CA`, else the local CA where
        one exists, else None (the system's trust store); ValueError when the named file is missing."""
        if self.ca is not None:
            if not self.ca.is_file():
                raise ValueError(f"RAYNOMALY_CA={self.ca}: no such file; give the CA certificate (PEM)")
            return self.ca
        local = self.runtime.tls_dir / "ca.pem"
        return local if local.is_file() else None

    def client_token(self) -> str | None:
        """The token the CLI presents: `RAYNOMALY_TOKEN`, else the admin token file."""
        if self.token:
            return self.token
        if self.admin_token_path.exists():
            return self.admin_token_path.read_text().strip()
        return None


def comma_separated_ip_addresses(text: str) -> tuple[str, ...]:
    """`10.0.0.1, 10.0.0.2` -> the addresses; ValueError naming one that is not an IP address."""
    addresses = tuple(a.strip() for a in text.split(",") if a.strip())
    for address in addresses:
        ipaddress.ip_address(address)
    return addresses
