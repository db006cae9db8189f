"""The metric source unreachable for two windows in the middle of a canary: the rollout pauses
saying why, neither promotes nor rolls back on missing data, and resumes by itself once the source
answers again."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.controller.live import TERMINAL, Control, Load, moves, story
from tests.faults.conftest import until
from tests.prometheus import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WINDOW = ["--interval", "8s", "--min-requests", "25", "--max-p99-ratio", "3"]


class MetricsLink:
    """The controller's way to Ray's metrics endpoint, which the test can cut: a forwarding server on
    its own port that, cut, is not there at all (connections refused)."""

    def __init__(self, target: str):
        self.port, self.target, self._server = free_port(), target, None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def up(self) -> None:
        target = self.target

        class Forward(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = httpx.get(target, timeout=30).content
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Forward)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def cut(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_metrics_outage_mid_canary_pauses_and_resumes_without_judging(served, report):
    control = Control(served)
    served.cli("traffic", "set", "sensor", "1=100")
    link = MetricsLink(served.metrics_url)
    link.up()
    served.cli("controller", "start", "--metrics-url", link.url)
    try:
        with Load(served.http, key=served.key) as load:
            result = served.cli(
                "deploy", "sensor", "2", "--steps", "50,100", "--error-limit", "1", *WINDOW, "--json"
            )
            rollout_id = json.loads(result.stdout)["id"]
            control.wait(rollout_id, lambda r: r["step"] == 0 and r["window_started"] is not None)
            link.cut()
            paused = control.wait(rollout_id, lambda r: r["phase"] in {"Paused", *TERMINAL}, timeout_s=60)
            weights = served.desired().traffic.models["sensor"].weights
            link.up()
            back = time.monotonic()
            resumed = until(lambda: control.rollout(rollout_id)["rollout"]["phase"] != "Paused", timeout_s=30)
            answer = control.finished(rollout_id)
    finally:
        served.cli("controller", "start")  # back to the embedded default
    record = paused["rollout"]
    report(sent=sum(load.statuses.values()), failed=load.failed, recovered_s=resumed and round(resumed, 1),
           after=f"paused: {record['reason'][:60]}...; then {answer['rollout']['phase']}")  # fmt: skip
    assert record["phase"] == "Paused" and "metrics unavailable in 2 windows" in record["reason"], record
    assert weights == {1: 50, 2: 50}  # blind: nothing moved
    assert resumed is not None and time.monotonic() - back < 60
    assert answer["rollout"]["phase"] == "Succeeded", story(answer)
    assert moves(answer) == ["advance", "pause", "resume", "promote", "succeed"], story(answer)
    assert load.failed == 0, load.statuses
