"""A batch job's private Ray: started when the job has no cluster, private to this machine and user.

Like the runtime's head (`runtime.cluster`), it binds 127.0.0.1 and requires a token: its node
address is 127.0.0.1, and every process of it (started by `ray.init`, inheriting this process's
environment) runs with token authentication and a token of its own, random per job, in a 0700
folder removed when the job ends. Its ports are left to the system (GCS port 0, Ray's defaults
for the rest), so it never takes a port a runtime was told to use, and two jobs never collide.
"""

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NODE_IP = "127.0.0.1"


def private_ray(num_cpus: int, token_path: Path) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The `ray.init` keyword arguments and the environment of a private Ray (pure; None: unset)."""
    arguments = {
        "address": "local",  # start one: never join a cluster found on the machine
        "num_cpus": num_cpus,
        "include_dashboard": False,
        "log_to_driver": False,
        "_node_ip_address": NODE_IP,
    }
    environment = {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_path),
        "RAY_AUTH_TOKEN": None,  # it would win over the path: the caller's token is not this Ray's
        "RAY_GCS_SERVER_PORT": "0",  # the system's choice, not a fixed port inherited from the caller
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    return arguments, environment


@contextmanager
def job_token() -> Iterator[Path]:
    """A fresh random token file (0600 in a 0700 folder) for one job, removed afterwards."""
    from runtime.cluster import ensure_token

    with tempfile.TemporaryDirectory(prefix="raynomaly-batch-") as folder:  # mkdtemp: 0700
        path = Path(folder) / "auth_token"
        ensure_token(path)
        yield path


@contextmanager
def environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """`variables` set (None: unset) in this process, and so in the Ray processes it starts; restored
    afterwards. Ray caches its authentication settings at first use: the cache is refreshed both ways."""
    previous = {name: os.environ.get(name) for name in variables}
    _apply(variables)
    try:
        yield
    finally:
        _apply(previous)


def _apply(variables: Mapping[str, str | None]) -> None:
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _refresh_ray_auth()


def _refresh_ray_auth() -> None:
    """Make Ray re-read the authentication mode and token from the environment (as Ray's own
    `ray.init` does when it turns token authentication on)."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
