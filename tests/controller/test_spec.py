"""Parsing at the edge: rollout requests, load-test and duration strings, controller settings."""

import pytest
from pydantic import ValidationError

from controller.rollouts.create import RolloutRefused, new_rollout
from controller.rollouts.spec import LoadTest, RolloutSpec, parse_duration
from controller.settings import ControllerSettings
from controller.targets.spec import Served
from runtime.desired import ScorerOptions
from runtime.traffic import ModelTraffic


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("2m", 120.0), ("1h", 3600.0), ("15", 15.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration_names_the_text():
    with pytest.raises(ValueError, match="duration '3 weeks'"):
        parse_duration("3 weeks")


def test_load_test_strings():
    assert LoadTest.parse("users=4,duration=30s,p99=200") == LoadTest(
        users=4, duration_s=30.0, max_p99_ms=200
    )
    assert LoadTest.parse("users=4,rps=30").rps == 30.0  # a steady rate, shared by the users
    with pytest.raises(ValueError, match="load test 'qps=3'"):
        LoadTest.parse("users=4,qps=3")


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"strategy": "big-bang"}, "choose one of canary, blue-green, shadow, rolling"),
        ({"steps": [50, 10, 100]}, "increasing"),
        ({"steps": [10, 50]}, "last step must be 100"),
        ({"interval_s": 0}, "greater than 0"),
    ],
)
def test_bad_specs_name_the_field(fields, says):
    with pytest.raises(ValidationError, match=says):
        RolloutSpec(model="fraud", candidate=2, **fields)


SERVED = Served(ModelTraffic(weights={1: 100}), {1: ScorerOptions()})


@pytest.mark.parametrize(
    ("served", "fields", "says"),
    [
        pytest.param(Served(ModelTraffic(weights={1: 90, 2: 10})), {}, "mid-change", id="split-model"),
        pytest.param(SERVED, {"candidate": 1}, "already serves", id="candidate-is-stable"),
        pytest.param(
            SERVED, {"strategy": "rolling"}, "changes the options of the version serving", id="rolling-new"
        ),
        pytest.param(
            SERVED, {"strategy": "rolling", "candidate": 1}, "needs the new scorer options", id="no-opts"
        ),
        pytest.param(Served(None), {"strategy": "shadow"}, "needs a version to mirror", id="shadow-unserved"),
    ],
)
def test_rollouts_that_cannot_start_are_refused_saying_what_to_do(served, fields, says):
    spec = RolloutSpec(**{"model": "fraud", "candidate": 2, **fields})
    with pytest.raises(RolloutRefused, match=says):
        new_rollout(spec, served, 0.0)


def test_a_new_rollout_remembers_the_stable_version_and_its_options():
    options = ScorerOptions(placement="dedicated", num_replicas=2)
    spec = RolloutSpec(model="fraud", candidate=1, strategy="rolling", options=options)
    rollout = new_rollout(spec, SERVED, 5.0)
    assert (rollout.stable, rollout.options, rollout.previous_options) == (
        1,
        ScorerOptions(),
        ScorerOptions(),
    )


def test_controller_settings_from_the_environment(tmp_path):
    settings = ControllerSettings.resolve(
        {"RAYNOMALY_HOME": str(tmp_path), "RAYNOMALY_CONTROLLER_PORT": "9999"}
    )
    assert settings.url == "http://127.0.0.1:9999" and settings.database == tmp_path / "rollouts.db"
    assert settings.client_token() is None
    with pytest.raises(ValueError, match="RAYNOMALY_RATE_LIMIT='fast' is not a valid float"):
        ControllerSettings.resolve({"RAYNOMALY_RATE_LIMIT": "fast"})
