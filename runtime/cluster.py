"""The local Ray head that `raynomaly up` starts and `raynomaly down` stops.

Token authentication is on (the token lives in the state folder, mode 0600); every port is
explicit and bound to 127.0.0.1 where Ray allows it. With the `haproxy` ingress, HAProxy fronts
Serve's throughput-optimised direct ingress; its files live in a per-cluster run folder so that
`down` can stop it too (Ray leaves HAProxy running after `ray stop`).
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from models.private import ensure_secret, private_folder
from runtime import processes, tracing
from runtime.settings import RuntimeSettings


class ClusterError(Exception):
    """The local cluster could not be started or stopped; the message says why and what to do."""


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def ensure_token(path: Path) -> str:
    """The cluster token, created (random, 0600) on first use."""
    return ensure_secret(path)


def run_folder(settings: RuntimeSettings) -> Path:
    """Short per-cluster folder for HAProxy's config and sockets (unix socket paths are short)."""
    return Path(tempfile.gettempdir()) / f"raynomaly-{os.getuid()}-{settings.ports.gcs}"


def environment(settings: RuntimeSettings) -> dict[str, str]:
    """Environment of every Ray process of the cluster (inherited by replicas)."""
    ports, run = settings.ports, run_folder(settings)
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(settings.token_path.resolve()),
        # replicas read the keyring by path (never key bytes in a Serve config), as the CLI does
        "RAYNOMALY_KEYS_DIR": str(settings.keys.resolve()),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(ports.direct_http[0]),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(ports.direct_http[1]),
        "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": str(ports.direct_grpc[0]),
        "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": str(ports.direct_grpc[1]),
        # one BLAS/OpenMP thread per replica: thread pools spin and fight on small machines
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env |= {"RAY_SERVE_ENABLE_HA_PROXY": "0", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "0"}
    env |= tracing.environment(settings.tracing)
    if settings.ingress == "haproxy":
        env |= {
            "RAY_SERVE_ENABLE_HA_PROXY": "1",
            "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
            "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(run / "haproxy.cfg"),
            "RAY_SERVE_HAPROXY_SOCKET_PATH": str(run / "admin.sock"),
            "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(run),
            "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(run / "server-state"),
            "RAY_SERVE_HAPROXY_METRICS_PORT": str(ports.haproxy_metrics),
            "RAY_SERVE_HAPROXY_STATS_PORT": str(ports.haproxy_stats),
            # Serve's own proxies behind HAProxy: on ports of this cluster's own, or a second cluster's
            # HAProxy falls back to the first cluster's proxy (and its gateway) during a table change
            "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(ports.fallback_http),
            "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": str(ports.fallback_grpc),
            # a request whose gateway replica died before answering (the connection closed with no
            # response) is sent again, to another replica; HAProxy keeps requests of up to 16 KB to
            # replay them (larger bodies fail as before). Scoring is idempotent. Twice: until HAProxy
            # marks a killed replica down, one replay may land on it too (a 502, answered as 500).
            "RAY_SERVE_HAPROXY_RETRY_ON": "conn-failure empty-response",
            "RAY_SERVE_HAPROXY_RETRIES": "2",
            "RAY_SERVE_HAPROXY_CLOSE_SPREAD_TIME_S": "10",
        }
    return env


def start(settings: RuntimeSettings) -> None:
    """Start the Ray head (ClusterError naming a taken port or Ray's own complaint). An HAProxy this
    cluster left behind (it outlives a crashed head, holding the ports) is ended first."""
    _end_haproxy(settings)
    taken = [f"{flag} {port}" for flag, port in settings.ports.named().items() if port_in_use(port)]
    if taken:
        raise ClusterError(f"port(s) already in use: {', '.join(taken)}; stop what uses them or pick others")
    private_folder(settings.state_dir)
    ensure_token(settings.token_path)
    run_folder(settings).mkdir(parents=True, exist_ok=True)
    ports = settings.ports
    command = [
        str(Path(sys.executable).with_name("ray")), "start", "--head", "--disable-usage-stats",
        "--node-ip-address=127.0.0.1", f"--port={ports.gcs}", "--dashboard-host=127.0.0.1",
        f"--dashboard-port={ports.dashboard}", f"--metrics-export-port={ports.metrics}",
        f"--num-cpus={settings.num_cpus}", "--include-dashboard=true",
    ]  # fmt: skip
    result = subprocess.run(command, env=environment(settings), capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise ClusterError(
            f"ray start failed (exit {result.returncode}):\n{(result.stderr or result.stdout)[-3000:]}"
        )


def stop(settings: RuntimeSettings) -> None:
    """Stop this cluster's Ray processes (those of its GCS port; never another Ray of the machine, as
    `ray stop` would) and its HAProxy."""
    processes.end(processes.cluster_processes(processes.running(), settings.ports.gcs))
    _end_haproxy(settings)
    shutil.rmtree(run_folder(settings), ignore_errors=True)


def _end_haproxy(settings: RuntimeSettings) -> None:
    """End the HAProxy processes of this cluster, found by their run folder."""
    run = str(run_folder(settings))
    ended = []
    for process in psutil.process_iter(["cmdline"]):
        if any(run in part for part in process.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):  # it may have exited meanwhile
                process.send_signal(signal.SIGKILL)
                ended.append(process)
    psutil.wait_procs(ended, timeout=5)
