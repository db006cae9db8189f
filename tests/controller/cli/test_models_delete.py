"""`raynomaly models delete`: asks first unless --yes, sends one DELETE to the control API (which
checks and audits), prints what was deleted, and reports the API's refusal as one line."""

import json

import pytest
from typer.testing import CliRunner

from controller.cli import app
from tests.controller.cli.standin import Handler, controller

runner = CliRunner()
IN_USE = "fraud cannot be deleted while in use (version 1: the served table (100% of traffic))"


class _Controller(Handler):
    """A controller that records each DELETE; version 1 is in use, everything else is deleted."""

    def do_DELETE(self):
        self.server.received.append(self.path)
        if self.path.startswith("/api/v1/models/fraud/versions/1"):
            status, answer = 409, {"detail": IN_USE}
        else:
            status, answer = 200, {"model": "fraud", "deleted": [2, 3], "remaining": []}
        self.answer(status, answer)


@pytest.fixture
def requests(monkeypatch, tmp_path):
    """The paths of the DELETEs a stand-in controller on an ephemeral port received."""
    with controller(_Controller, monkeypatch, tmp_path) as received:
        yield received


def test_a_confirmed_deletion_goes_through_the_control_api(requests):
    result = runner.invoke(app, ["models", "delete", "fraud"], input="y\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert requests == ["/api/v1/models/fraud?target=local"]
    assert "deleted fraud version(s) 2, 3; remaining: none; the model is gone" in result.output


def test_yes_skips_the_question_and_the_target_is_passed_on(requests):
    flags = ["--yes", "--target", "kuberay", "--namespace", "serving", "--rayservice", "rs", "--json"]
    result = runner.invoke(app, ["models", "delete", "fraud:3", *flags], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert requests == ["/api/v1/models/fraud/versions/3?target=kuberay&namespace=serving&rayservice=rs"]
    assert json.loads(result.stdout)["deleted"] == [2, 3]


def test_declining_deletes_nothing(requests):
    result = runner.invoke(app, ["models", "delete", "fraud:3"], input="n\n")
    assert result.exit_code == 1 and "nothing deleted" in result.output and requests == []


@pytest.mark.parametrize(
    ("ref", "code", "says"),
    [
        pytest.param("fraud:1", 1, f"error: {IN_USE} (409)", id="in-use"),
        pytest.param("fraud:x", 2, "invalid model reference 'fraud:x'", id="bad-reference"),
        pytest.param("Fraud", 2, "invalid model name 'Fraud'", id="bad-name"),
    ],
)
def test_refusals_are_one_line_and_an_exit_code(requests, ref, code, says):
    result = runner.invoke(app, ["models", "delete", ref, "--yes"])
    assert result.exit_code == code and says in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
