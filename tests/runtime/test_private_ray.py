"""A batch job's private Ray binds 127.0.0.1 and requires its own token; a cluster's address is unchanged.

Starting Ray is left to the integration tests: here `ray.init` is replaced by a recorder of what it
is given, and of the environment the Ray processes it starts would inherit.
"""

import os
import stat
from pathlib import Path

import pytest

from runtime.batch import private_ray, ray_data


def test_a_private_ray_binds_loopback_with_token_auth_on_the_systems_ports(tmp_path):
    arguments, environment = private_ray.private_ray(3, tmp_path / "auth_token")
    assert arguments == {"address": "local", "num_cpus": 3, "include_dashboard": False,
                         "log_to_driver": False, "_node_ip_address": "127.0.0.1"}  # fmt: skip
    assert environment["RAY_AUTH_MODE"] == "token"
    assert environment["RAY_AUTH_TOKEN_PATH"] == str(tmp_path / "auth_token")
    assert environment["RAY_AUTH_TOKEN"] is None and environment["RAY_GCS_SERVER_PORT"] == "0"


class RecordedRay:
    """Stands in for `ray.init` / `ray.shutdown`: keeps the arguments, environment and token of each start."""

    def __init__(self):
        self.starts, self.running = [], False

    def init(self, **arguments):
        token_path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", "/nonexistent"))
        token = token_path.read_text() if token_path.exists() else None
        mode = stat.S_IMODE(token_path.stat().st_mode) if token_path.exists() else None
        self.starts.append((arguments, dict(os.environ), token, mode))
        self.running = True

    def shutdown(self):
        self.running = False

    def is_initialized(self):
        return self.running


@pytest.fixture
def recorded(monkeypatch):
    ray = RecordedRay()
    for name in ("init", "shutdown", "is_initialized"):
        monkeypatch.setattr(ray_data.ray, name, getattr(ray, name))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the caller's settings: not the private Ray's
    monkeypatch.setenv("RAY_AUTH_TOKEN", "the-callers-token")
    return ray


def test_a_job_without_a_cluster_starts_ray_with_a_token_of_its_own(recorded):
    for _ in range(2):
        with ray_data.ray_session(None, 2):
            assert recorded.running
    assert not recorded.running
    (arguments, environment, token, mode), second = recorded.starts
    assert arguments["address"] == "local" and arguments["_node_ip_address"] == "127.0.0.1"
    assert environment["RAY_AUTH_MODE"] == "token" and "RAY_AUTH_TOKEN" not in environment
    assert len(token) == 64 and mode == 0o600 and second[2] != token  # random, per job
    assert not os.path.exists(environment["RAY_AUTH_TOKEN_PATH"])  # removed with the job
    assert os.environ["RAY_AUTH_MODE"] == "disabled" and os.environ["RAY_AUTH_TOKEN"] == "the-callers-token"
    assert "RAY_AUTH_TOKEN_PATH" not in os.environ


def test_a_job_on_a_cluster_joins_it_as_before(recorded):
    with ray_data.ray_session("ray://head:10001", 2):
        pass
    ((arguments, environment, _, _),) = recorded.starts
    assert arguments == {"address": "ray://head:10001", "log_to_driver": False}
    assert environment["RAY_AUTH_MODE"] == "disabled"
