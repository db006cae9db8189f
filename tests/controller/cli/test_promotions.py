"""`raynomaly promote`, `approve` and `environments`: what they send to the control API and what a
person reads back (every reason a promotion is refused, one per line with --check)."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from controller.cli import app
from tests.controller.cli.standin import Handler, controller

runner = CliRunner()
ENVIRONMENTS = {"source": "environments.yaml", "environments": [
    {"name": "dev", "target": {"kind": "local", "namespace": None, "rayservice": None, "home": None},
     "upstream": None, "soak": 0.0, "approval": None, "rollout": {"shadow": {"steps": [50, 100]}}},
    {"name": "production",
     "target": {"kind": "kuberay", "namespace": "ml", "rayservice": "fraud", "home": None},
     "upstream": "dev", "soak": 600.0, "approval": {"role": "approver", "four_eyes": True}, "rollout": {}},
]}  # fmt: skip
REASONS = [
    "v2 has soaked in dev for 40 s of the 600 s production requires; promote it in 560 s",
    "production needs an approval of v2: 'raynomaly approve fraud 2 --for production --reason ...'",
]
ROLLOUT = {"id": "abc123", "spec": {"strategy": "canary"},
           "promotion": {"upstream": {"rollout": "d1", "environment": "dev"}}}  # fmt: skip


class _Controller(Handler):
    def do_GET(self):
        url = urlsplit(self.path)
        self.server.received.append(("GET", url.path, {k: v[0] for k, v in parse_qs(url.query).items()}))
        if url.path == "/api/v1/environments":
            return self.answer(200, ENVIRONMENTS)
        allowed = "fraud/versions/3" in url.path
        self.answer(200, {"allowed": allowed, "reasons": [] if allowed else REASONS, "upstream": "d1"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append(("POST", self.path, body))
        if self.path.endswith("/approve"):
            return self.answer(201, {"id": "ap1", "actor": "alice", "upstream": "d1"})
        if "/versions/9/" in self.path:
            return self.answer(409, {"detail": "; ".join(REASONS)})
        self.answer(201, ROLLOUT)


@pytest.fixture
def requests(monkeypatch, tmp_path):
    with controller(_Controller, monkeypatch, tmp_path) as received:
        yield received


def test_promote_sends_the_environment_reason_and_ticket(requests):
    result = runner.invoke(app, ["promote", "fraud", "2", "--to", "production", "--reason", "drift fix",
                                 "--ticket", "CHG-1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert requests == [("POST", "/api/v1/models/fraud/versions/2/promote",
                         {"to": "production", "reason": "drift fix", "ticket": "CHG-1"})]  # fmt: skip
    assert "abc123: canary of v2 in production, on rollout d1 in dev" in result.output


def test_a_refused_promotion_names_every_reason_and_fails(requests):
    result = runner.invoke(app, ["promote", "fraud", "9", "--to", "production"])
    assert result.exit_code == 1
    assert "soaked in dev for 40 s" in result.output and "raynomaly approve fraud 2" in result.output


def test_check_lists_the_reasons_one_per_line_and_exits_1_until_allowed(requests):
    refused = runner.invoke(app, ["promote", "fraud", "2", "--to", "production", "--check"])
    assert refused.exit_code == 1 and refused.output.count("\n  - ") == 2, refused.output
    allowed = runner.invoke(app, ["promote", "fraud", "3", "--to", "production", "--check"])
    assert allowed.exit_code == 0 and "may be promoted to production (upstream rollout d1)" in allowed.output
    assert requests[0] == ("GET", "/api/v1/models/fraud/versions/2/eligibility", {"to": "production"})
    assert not [r for r in requests if r[0] == "POST"]  # --check never promotes


def test_approve_sends_for_and_reason(requests):
    result = runner.invoke(
        app, ["approve", "fraud", "2", "--for", "production", "--reason", "dashboards fine"]
    )
    assert result.exit_code == 0, result.output
    assert requests == [("POST", "/api/v1/models/fraud/versions/2/approve",
                         {"for": "production", "reason": "dashboards fine", "ticket": None})]  # fmt: skip
    assert "approved v2 of fraud for production (on rollout d1) as alice: ap1" in result.output
    assert runner.invoke(app, ["approve", "fraud", "2", "--for", "production"]).exit_code == 2  # no reason


def test_environments_is_a_table(requests):
    result = runner.invoke(app, ["environments"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for text in ("dev", "shadow", "kuberay:ml/fraud", "600 s", "approver, four eyes", "canary"):
        assert text in result.output
    assert json.loads(runner.invoke(app, ["environments", "--json"]).stdout) == ENVIRONMENTS
