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


def test_settings_flags_override_environment():
    settings = RuntimeSettings.resolve({"RAYNOMALY_STORE": "/env/store"}, ports={"http": 18000, "grpc": None})
    assert settings.store == "/env/store" and settings.ports.http == 18000 and settings.ports.grpc == 9000
    with pytest.raises(ValueError, match="unknown ingress 'nginx'"):
        RuntimeSettings.resolve({}, ingress="nginx")
