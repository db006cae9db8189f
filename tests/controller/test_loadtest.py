"""The Locust gate against a tiny real HTTP server: healthy, slow, undeployed, unreachable, broken runs.

The server implements POST /api/v1/predict like the gateway for one model: version 2 is deployed and
takes rows of FEATURES values (anything else is a 400), other pinned versions are 404, and every
answer can be delayed. Each case runs real Locust for 1-2 s in a subprocess.
"""

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from controller.analysis.loadtest import LoadTest
from controller.analysis.verdict import Outcome
from controller.loadtest.gate import LocustGate, LocustStats, judge, parse_stats, percentile

pytestmark = pytest.mark.integration

FEATURES = 4


class Predict(BaseHTTPRequestHandler):
    """The gateway's predict route for model `fraud`, version 2 deployed."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: "Gateway"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        time.sleep(self.server.delay_ms / 1000)
        if self.path != "/api/v1/predict" or body.get("model") != "fraud":
            self._answer(404, {"detail": "no such route or model"})
        elif self.headers.get("x-model-version", "2" if self.server.unpinned else None) != "2":
            self._answer(404, {"detail": f"version {self.headers.get('x-model-version')} not deployed"})
        elif len(body.get("features", [])) != FEATURES:
            self.server.bad_rows += 1
            self._answer(400, {"detail": f"expected {FEATURES} features"})
        else:
            self.server.rows.append(body["features"])
            self._answer(200, {"model": "fraud", "version": 2, "score": 0.1, "anomaly": False})

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args) -> None:
        pass


class Gateway(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    delay_ms = 0.0
    bad_rows = 0
    unpinned = False
    """Whether a request without `x-model-version` is routed (to version 2) like the gateway's table."""

    def __init__(self, *args):
        super().__init__(*args)
        self.rows: list[list[float]] = []

    def handle_error(self, *_args) -> None:
        pass  # Locust drops in-flight connections when the run ends


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway(("127.0.0.1", 0), Predict)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: Gateway) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def gate_for(http_url: str, **kwargs) -> LocustGate:
    return LocustGate(http_url, lambda model, version: FEATURES, **kwargs)


def by_name(measurements) -> dict:
    return {m.name: m for m in measurements}


def test_a_healthy_candidate_passes_both_measurements(gateway):
    loadtest = LoadTest(users=4, duration_s=2, max_p99_ms=500, max_error_rate=0.01)
    started = time.perf_counter()
    result = by_name(gate_for(url(gateway))(loadtest, "fraud", 2))
    assert time.perf_counter() - started < 2 + 10
    p99, errors = result["loadtest_p99_ms"], result["loadtest_error_rate"]
    assert p99.outcome == Outcome.SUCCESSFUL, p99.message
    assert errors.outcome == Outcome.SUCCESSFUL, errors.message
    assert 0 <= p99.value <= 500 and p99.threshold == 500
    assert errors.value == 0.0 and errors.threshold == 0.01
    assert gateway.bad_rows == 0
    requests = int(p99.message.split(" requests)")[0].rsplit(" ", 1)[1])
    assert requests > 0
    assert p99.message.startswith("load test p99 ") and "<= 500 ms (4 users, 2 s, " in p99.message
    assert errors.message == f"load test error rate 0.00% <= 1.00% (0 of {requests} requests failed)"


def test_a_steady_rate_sends_the_given_rows_unpinned(gateway):
    """What `raynomaly loadtest` runs: rows from the caller's data, at a steady rate shared by the
    users, routed by the traffic table (no version header)."""
    gateway.unpinned = True
    rows = np.arange(12, dtype=float).reshape(3, FEATURES)
    stats = gate_for(url(gateway)).run(LoadTest(users=2, duration_s=4, rps=10), "fraud", None, FEATURES, rows)
    assert stats.failures == 0 and 25 <= stats.requests <= 45  # 10/s for 4 s, users starting together
    assert gateway.rows and {tuple(r) for r in gateway.rows} <= {tuple(r) for r in rows.tolist()}


def test_a_slow_candidate_fails_the_p99(gateway):
    gateway.delay_ms = 60
    loadtest = LoadTest(users=2, duration_s=2, max_p99_ms=20)
    result = by_name(gate_for(url(gateway))(loadtest, "fraud", 2))
    p99 = result["loadtest_p99_ms"]
    assert p99.outcome == Outcome.FAILED, p99.message
    assert p99.value >= 60
    assert "> 20 ms (2 users, 2 s, " in p99.message
    assert result["loadtest_error_rate"].outcome == Outcome.SUCCESSFUL


def test_an_undeployed_version_fails_the_error_rate(gateway):
    loadtest = LoadTest(users=2, duration_s=2)
    result = by_name(gate_for(url(gateway))(loadtest, "fraud", 3))
    errors = result["loadtest_error_rate"]
    assert errors.outcome == Outcome.FAILED, errors.message
    assert errors.value == 1.0
    assert "error rate 100.00% > 1.00%" in errors.message and "code=404" in errors.message
    assert result["loadtest_p99_ms"].outcome == Outcome.SUCCESSFUL


def test_nothing_listening_is_an_error_not_a_failed_candidate():
    """Refused connections are failed requests to Locust, but no answer at all says nothing about the
    candidate: the gateway every version shares is down, so the gate cannot measure (Error)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = gate_for(f"http://127.0.0.1:{port}")(LoadTest(users=2, duration_s=1), "fraud", 2)
    assert [m.outcome for m in result] == [Outcome.ERROR, Outcome.ERROR]
    assert "no HTTP answer" in result[0].message and "Connection refused" in result[0].message


def test_no_completed_request_is_inconclusive(gateway):
    gateway.delay_ms = 3000
    result = gate_for(url(gateway))(LoadTest(users=1, duration_s=1), "fraud", 2)
    assert [m.outcome for m in result] == [Outcome.INCONCLUSIVE, Outcome.INCONCLUSIVE]
    assert "completed no request" in result[0].message


@pytest.mark.parametrize(
    ("source", "expected"),
    [(None, "Could not find"), ("def broken(:\n", "SyntaxError")],
    ids=["missing", "bad"],
)
def test_a_locustfile_that_cannot_load_is_an_error(gateway, tmp_path, source, expected):
    locustfile = tmp_path / "gate_locustfile.py"
    if source is not None:
        locustfile.write_text(source)
    result = gate_for(url(gateway), locustfile=locustfile)(LoadTest(users=1, duration_s=1), "fraud", 2)
    assert [m.outcome for m in result] == [Outcome.ERROR, Outcome.ERROR]
    assert "without JSON statistics" in result[0].message and expected in result[0].message


def test_a_run_past_its_timeout_is_an_error(gateway):
    result = gate_for(url(gateway), timeout_margin_s=0.01)(LoadTest(users=1, duration_s=1), "fraud", 2)
    assert [m.outcome for m in result] == [Outcome.ERROR, Outcome.ERROR]
    assert "did not finish within 1.01 s" in result[0].message


def test_an_unknown_feature_count_is_an_error_without_running_locust():
    def unknown(model: str, version: int) -> int:
        raise KeyError(f"{model} v{version}")

    result = LocustGate("http://127.0.0.1:9", unknown)(LoadTest(), "fraud", 7)
    assert [m.outcome for m in result] == [Outcome.ERROR, Outcome.ERROR]
    assert "fraud v7 not run" in result[0].message


def test_p99_merges_the_entries_histograms_like_locust():
    entries = [
        {"num_requests": 90, "num_none_requests": 0, "num_failures": 1, "response_times": {"2": 89, "40": 1}},
        {"num_requests": 10, "num_none_requests": 0, "num_failures": 0, "response_times": {"3": 8, "250": 2}},
    ]
    stats = parse_stats(entries, 'RAYNOMALY_GATE_REPORT {"answered": 100, "errors": {"boom": 1}}\n')
    assert stats == LocustStats(100, 1, 250.0, 100, {"boom": 1})  # 2 of 100 took 250 ms
    assert percentile({2: 89, 3: 8, 40: 1, 250: 2}, 100, 0.97) == 40
    assert percentile({}, 0, 0.99) == 0
    rate = by_name(judge(LoadTest(max_error_rate=0.001), stats))["loadtest_error_rate"]
    assert rate.outcome == Outcome.FAILED and rate.message.endswith(
        "(1 of 100 requests failed; mostly boom (1))"
    )


def test_the_loadtest_command_says_what_it_needs(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    command = [str(Path(sys.executable).with_name("raynomaly")), "loadtest", "demo", "--rps", "5"]
    environ = {**os.environ, "RAYNOMALY_HOME": str(tmp_path), "RAYNOMALY_STORE": str(tmp_path / "models")}
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no local runtime is running" in done.stderr and "--url" in done.stderr
    unknown = subprocess.run([*command, "--url", "http://127.0.0.1:9"], env=environ, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert unknown.returncode != 0 and "demo" in unknown.stderr and "Traceback" not in unknown.stderr
