"""`raynomaly deploy`: its flags become the control API's deploy body, the strategy's options in the
strategy's own field; a flag the strategy has no option for is refused before anything is sent."""

import json

import pytest
from typer.testing import CliRunner

from controller.api.app import DeployRequest
from controller.cli import app
from tests.controller.cli.standin import Handler, controller

runner = CliRunner()
KUBERAY = ["--target", "kuberay", "--namespace", "serving", "--rayservice", "raynomaly"]
INCREMENTAL = "step=20,interval=30,gateway=istio"
INCREMENTS = {
    "step_size_percent": 20,
    "interval_seconds": 30,
    "max_surge_percent": 100,
    "gateway_class_name": "istio",
}


class _Recorder(Handler):
    """A controller that accepts every deploy and keeps its body."""

    def do_POST(self):
        self.server.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.answer(201, {"id": "r1"})


@pytest.fixture
def bodies(monkeypatch, tmp_path):
    """The deploy bodies a stand-in controller on an ephemeral port received."""
    with controller(_Recorder, monkeypatch, tmp_path) as received:
        yield received


@pytest.mark.parametrize(
    ("flags", "field", "options"),
    [
        pytest.param([], "canary", {}, id="canary-by-default"),
        pytest.param(["--steps", "20,100"], "canary", {"steps": [20, 100]}, id="canary-steps"),
        pytest.param(["--strategy", "blue-green", "--warm", "2m", "--shadow-percent", "50"], "blue_green",
                     {"warm_s": 120.0, "shadow_percent": 50.0}, id="blue-green"),
        pytest.param(["--strategy", "shadow", "--steps", "50"], "shadow", {"steps": [50]}, id="shadow"),
        pytest.param(["--strategy", "upgrade", "--image", "x:1", "--incremental", INCREMENTAL, *KUBERAY],
                     "upgrade", {"image": "x:1", "incremental": INCREMENTS}, id="upgrade"),
    ],
)  # fmt: skip
def test_flags_become_the_strategy_field_of_the_deploy_body(bodies, flags, field, options):
    result = runner.invoke(app, ["deploy", "fraud", "2", *flags], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [body] = bodies
    assert body[field] == options and "strategy" not in body
    assert DeployRequest.model_validate(body).spec("fraud").strategy == field.replace("_", "-")


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        pytest.param(["--warm", "2m"], "--warm: not an option of the canary strategy", id="warm-on-canary"),
        pytest.param(["--strategy", "rolling", "--steps", "10,100"], "--steps: not an option of the rolling",
                     id="steps-on-rolling"),
        pytest.param(["--strategy", "big-bang"], "choose one of canary, blue-green, shadow, rolling, upgrade",
                     id="unknown-strategy"),
    ],
)  # fmt: skip
def test_flags_a_strategy_does_not_take_are_refused_before_anything_is_sent(bodies, flags, says):
    result = runner.invoke(app, ["deploy", "fraud", "2", *flags])
    assert result.exit_code == 2 and says in result.output and bodies == []


def test_the_strategy_help_lists_every_registered_strategy():
    result = runner.invoke(app, ["deploy", "--help"], env={"COLUMNS": "200"})
    assert "canary, blue-green, shadow, rolling, upgrade" in result.output


def test_the_input_drift_threshold_is_given_like_the_other_thresholds(bodies):
    result = runner.invoke(app, ["deploy", "fraud", "2", "--max-input-drift", "0.2", "--max-ks", "0.15"])
    assert result.exit_code == 0, result.output
    [body] = bodies
    assert body["thresholds"] == {"max_input_drift": 0.2, "max_ks": 0.15}
    assert DeployRequest.model_validate(body).spec("fraud").thresholds.max_input_drift == 0.2
