"""Local cluster helpers that need no Ray: ports, token, environment."""

import socket
import stat
from pathlib import Path

import pytest

from runtime import cluster
from runtime.cluster import ClusterError
from runtime.settings import Ports, RuntimeSettings


def test_token_is_private_and_stable(tmp_path):
    path = tmp_path / "ray" / "auth_token"
    token = cluster.ensure_token(path)
    assert len(token) == 64 and cluster.ensure_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_taken_port_is_named():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert cluster.port_in_use(port)
        settings = RuntimeSettings(state_dir=Path("/nonexistent"), ports=Ports(http=port))
        with pytest.raises(ClusterError, match=f"--http-port {port}"):
            cluster.start(settings)


def test_environment_enables_token_auth_and_the_chosen_ingress(tmp_path):
    haproxy = cluster.environment(RuntimeSettings(state_dir=tmp_path, ports=Ports(haproxy_stats=18404)))
    assert haproxy["RAY_AUTH_MODE"] == "token" and haproxy["RAY_AUTH_TOKEN_PATH"].endswith("ray/auth_token")
    assert haproxy["RAY_SERVE_ENABLE_HA_PROXY"] == "1" and haproxy["RAY_SERVE_HAPROXY_STATS_PORT"] == "18404"
    proxy = cluster.environment(RuntimeSettings(state_dir=tmp_path, ingress="proxy"))
    assert proxy["RAY_SERVE_ENABLE_HA_PROXY"] == "0" and proxy["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "0"


def test_replicas_get_the_keys_folder_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = RuntimeSettings.resolve({"RAYNOMALY_HOME": "state"})
    assert settings.keys == Path("state/keys")
    environ = cluster.environment(settings)
    assert environ["RAYNOMALY_KEYS_DIR"] == str(tmp_path / "state" / "keys")
    override = RuntimeSettings.resolve({"RAYNOMALY_HOME": "state", "RAYNOMALY_KEYS_DIR": "/etc/keys"})
    assert cluster.environment(override)["RAYNOMALY_KEYS_DIR"] == "/etc/keys"


def test_settings_flags_override_environment():
    settings = RuntimeSettings.resolve({"RAYNOMALY_STORE": "/env/store"}, ports={"http": 28000, "grpc": None})
    assert settings.store == "/env/store" and settings.ports.http == 28000 and settings.ports.grpc == 9000
    with pytest.raises(ValueError, match="unknown ingress 'nginx'"):
        RuntimeSettings.resolve({}, ingress="nginx")


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        pytest.param(
            {"dashboard": 18265}, "--dashboard-port 18265: inside Ray's worker port range", id="dashboard"
        ),
        pytest.param({"http": 10002, "grpc": 19999}, "--http-port 10002, --grpc-port 19999", id="both-ends"),
    ],
)
def test_ports_in_rays_worker_range_are_refused_up_front(ports, message):
    with pytest.raises(ValueError, match=message):
        RuntimeSettings.resolve({}, ports=ports)
    RuntimeSettings.resolve({}, ports={"dashboard": 20000, "http": 10001})  # just outside: fine


@pytest.mark.parametrize(
    ("text", "bounds"),
    [pytest.param("2", (2, 2), id="fixed"), pytest.param("1..4", (1, 4), id="autoscaled")],
)
def test_replicas_are_a_number_or_bounds(text, bounds):
    assert RuntimeSettings.parse_replicas(text) == bounds


@pytest.mark.parametrize("text", ["0", "3..2", "two", "1..", "1...3"])
def test_bad_replica_counts_name_the_form(text):
    with pytest.raises(ValueError, match="--replicas"):
        RuntimeSettings.parse_replicas(text)


def test_the_state_folder_is_its_owners_alone_whatever_the_umask(tmp_path):
    import os

    state = tmp_path / ".raynomaly"
    state.mkdir(mode=0o755)  # as an earlier version left it
    previous = os.umask(0)
    try:
        cluster.private_folder(state)
        cluster.ensure_token(state / "ray" / "auth_token")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "ray").stat().st_mode) == 0o700


def test_every_port_a_second_cluster_would_share_is_its_own(tmp_path):
    """Two runtimes on one machine: HAProxy's ports, Serve's own proxies behind it (HAProxy's fallback)
    and the replicas' direct-ingress ranges all follow the settings."""
    ports = Ports(haproxy_metrics=38101, haproxy_stats=38404, fallback_http=38500, fallback_grpc=39500,
                  direct_http=(32000, 32999), direct_grpc=(42000, 42999))  # fmt: skip
    environ = cluster.environment(RuntimeSettings(state_dir=tmp_path, ports=ports))
    assert (environ["RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"], environ["RAY_SERVE_FALLBACK_PROXY_GRPC_PORT"]) == (
        "38500", "39500")  # fmt: skip
    assert environ["RAY_SERVE_HAPROXY_METRICS_PORT"] == "38101"
    assert environ["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"] == "32000"
    assert environ["RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT"] == "42999"
    assert {"--fallback-http-port": 38500, "--haproxy-stats-port": 38404}.items() <= ports.named().items()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("32000", "use LOW..HIGH", id="one-port"),
        pytest.param("a..b", "use LOW..HIGH", id="not-numbers"),
        pytest.param("33000..32000", "LOW <= HIGH", id="backwards"),
        pytest.param("80..90", "1024 <= LOW", id="privileged"),
    ],
)
def test_port_ranges_are_checked(text, says):
    with pytest.raises(ValueError, match=f"--direct-http-ports '{text}': .*{says}"):
        Ports.parse_range(text, "--direct-http-ports")
    assert Ports.parse_range("32000..32999", "--direct-http-ports") == (32000, 32999)


def test_a_range_reaching_into_rays_worker_ports_is_refused():
    with pytest.raises(ValueError, match="--direct-http-ports 19000..21000: inside Ray's worker port range"):
        RuntimeSettings.resolve({}, ports={"direct_http": (19000, 21000)})
