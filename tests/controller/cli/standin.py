"""A stand-in control API on an ephemeral loopback port, for the commands that are its clients: a
handler class answers, and whatever it appends to `self.server.received` the test reads."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def answer(self, status: int, document) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def controller(handler: type[Handler], monkeypatch, home) -> Iterator[list]:
    """Serve `handler` and point the CLI at it (with a token); yields what it received."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("RAYNOMALY_HOME", str(home))
    monkeypatch.setenv("RAYNOMALY_CONTROLLER_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("RAYNOMALY_TOKEN", "token")
    try:
        yield server.received
    finally:
        server.shutdown()
        thread.join()
