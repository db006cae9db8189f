"""FakeKubeApiServer: a test double of the Kubernetes API server, over real HTTP, for the official client.

It serves the custom objects of the loaded CRDs (admitted as the real server admits them: pruning,
defaults, OpenAPI schema, CEL rules) and a few built-in kinds (validated with kubernetes-validate):
ServiceAccounts, Services, ConfigMaps, Deployments, Roles and RoleBindings. Anything else is 404, as on
a cluster without that resource. Errors are `kind: Status` bodies, so `ApiException` carries them.
The semantics live in `verbs.py` and `store.py`; this module is the HTTP transport (one thread per
connection, chunked watch streams), its lifecycle, and the kubeconfig that points clients at it.
"""

import contextlib
import json
import secrets
import socket
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes
import yaml

from tests.kube.faults import Faults
from tests.kube.resources import served
from tests.kube.schema import CustomResource
from tests.kube.status import ApiError
from tests.kube.store import Store
from tests.kube.verbs import Response, Verbs, parse_query


class _HTTPServer(ThreadingHTTPServer):
    """The listening socket, and what its handlers share: the verbs, the faults, the request log."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], verbs: Verbs, faults: Faults, log: Callable[..., None]):
        super().__init__(address, _Handler)
        self.verbs, self.faults, self.log = verbs, faults, log
        self.connections: set[socket.socket] = set()  # closed by stop(), keep-alive ones included
        self.connections_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked watch streams, as the client expects
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle and delayed ACKs add 40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class names it so
        pass  # the test's own output stays readable; `requests` keeps the log

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        verbs, url = self.server.verbs, urlsplit(self.path)
        content_type = self.headers.get("Content-Type", "")
        self.server.log(method, url.path, content_type)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            verbs.authenticate(self.headers.get("Authorization"))
            route, query = verbs.route(url.path), parse_query(url.query)
            verbs.check_params(route, method, query)
            fault = self.server.faults.take("error", route.rt.plural)
            if fault is not None:
                raise ApiError(
                    fault.status, f"Internal error occurred: injected by Faults.errors (HTTP {fault.status})"
                )
            if method == "GET" and route.name is None and query.get("watch") in ("true", "1"):
                self._stream(verbs.watch(route, query))
                return
            self._send(verbs.respond(method, route, query, content_type, raw))
        except ApiError as e:
            self._send(Response(e.code, e.status()))
        except Exception as e:  # a bug of this double: answered loudly, never a hung client
            traceback.print_exc()
            failure = ApiError(500, f"the fake API server failed: {e!r}; this is a bug in tests/kube")
            self._send(Response(500, failure.status()))

    def _send(self, response: Response) -> None:
        data = json.dumps(response.body).encode()
        self.send_response(response.code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for warning in response.warnings:  # one header per warning, as the real server sends them
            self.send_header("Warning", f"299 - {json.dumps(warning)}")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events) -> None:
        cut = self.server.faults.take("drop", None) is not None
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                if cut:  # the connection dies mid-stream: no terminating chunk, as when a peer goes away
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client went away
            self.close_connection = True


class FakeKubeApiServer:
    """A Kubernetes API server double on 127.0.0.1 (`port` 0: a free port); use it as a context manager."""

    def __init__(
        self,
        crds: dict[str, CustomResource],
        namespaces: tuple[str, ...] = ("default",),
        token: str | None = None,
        history: int = 1000,
        port: int = 0,
    ):
        self.token = token or secrets.token_urlsafe(24)
        self.faults = Faults()
        self.requests: list[tuple[str, str, str]] = []  # (method, path without query, Content-Type)
        self._store = Store(history)
        self._verbs = Verbs(served(crds), self._store, self.faults, tuple(namespaces), self.token)
        self._lock = threading.Lock()
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def _log(self, method: str, path: str, content_type: str) -> None:
        with self._lock:
            self.requests.append((method, path, content_type))

    def start(self) -> "FakeKubeApiServer":
        self._httpd = _HTTPServer(("127.0.0.1", self._port), self._verbs, self.faults, self._log)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll interval: stop() waits for the next poll, and tests start and stop many servers.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fake-kube-apiserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """End open watches (cleanly), stop serving, and close every connection."""
        if self._httpd is None:
            return
        self._store.close()
        self._httpd.shutdown()
        with self._httpd.connections_lock:
            for connection in list(self._httpd.connections):
                with contextlib.suppress(OSError):  # already closed by its peer
                    connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> "FakeKubeApiServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig whose current context reaches this server with its token."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": self.token}}],
            "contexts": [
                {"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}
            ],
            "current-context": "fake",
        }
        path = Path(path)
        path.write_text(yaml.safe_dump(config))
        return path

    def api_client(self) -> kubernetes.client.ApiClient:
        """An official client configured for this server."""
        configuration = kubernetes.client.Configuration(
            host=self.url, api_key={"BearerToken": self.token}, api_key_prefix={"BearerToken": "Bearer"}
        )
        return kubernetes.client.ApiClient(configuration)
