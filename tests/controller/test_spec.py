"""Parsing at the edge: rollout requests, load-test and duration strings, controller settings."""

import pytest
from pydantic import ValidationError

from controller.analysis.loadtest import LoadTest, parse_duration
from controller.rollouts.create import RolloutRefused, new_rollout
from controller.rollouts.spec import RolloutSpec
from controller.settings import ControllerSettings
from controller.targets.spec import Served, TargetRef
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


def test_a_spec_without_a_strategy_is_a_canary_with_its_default_steps():
    spec = RolloutSpec(model="fraud", candidate=2)
    assert (spec.strategy, spec.canary.steps, spec.shadow) == ("canary", [10, 50, 100], None)


def test_a_spec_names_its_strategy_and_reads_back_what_it_dumps():
    spec = RolloutSpec(model="fraud", candidate=2, blue_green={"warm_s": 60})
    dumped = spec.model_dump(mode="json")
    assert (spec.strategy, dumped["strategy"], dumped["blue_green"]["warm_s"]) == (
        "blue-green",
        "blue-green",
        60,
    )
    assert RolloutSpec.model_validate(dumped) == spec


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        pytest.param({"canary": {"steps": [10, 100]}, "shadow": {}}, "one strategy, not canary and shadow",
                     id="two-strategies"),
        pytest.param({"interval_s": 0}, "greater than 0", id="bad-common-field"),
        pytest.param({"strategy": "big-bang"}, "choose one of canary, blue-green, shadow, rolling, upgrade",
                     id="flat-unknown-strategy"),
        pytest.param({"strategy": "shadow", "canary": {}}, "does not match", id="name-beside-another-field"),
        pytest.param({"steps": [10, 100], "canary": {}}, "inside its field", id="flat-beside-nested"),
        pytest.param({"cluster": {"image": "x:1"}}, "goes with the upgrade strategy",
                     id="flat-image-on-canary"),
    ],
)  # fmt: skip
def test_bad_specs_name_the_field(fields, says):
    with pytest.raises(ValidationError, match=says):
        RolloutSpec(model="fraud", candidate=2, **fields)


FLAT = {"steps": [10, 50, 100], "shadow_percent": 100.0, "warm_s": 300.0, "cluster": None}


@pytest.mark.parametrize(
    ("flat", "field", "options"),
    [
        pytest.param({"steps": [20, 100]}, "canary", {"steps": [20, 100]}, id="canary-by-default"),
        pytest.param({**FLAT, "strategy": "canary"}, "canary", {"steps": [10, 50, 100]}, id="canary-stored"),
        pytest.param({**FLAT, "strategy": "shadow", "steps": [50]}, "shadow", {"steps": [50]}, id="shadow"),
        pytest.param({**FLAT, "strategy": "blue-green", "warm_s": 60.0}, "blue_green",
                     {"shadow_percent": 100.0, "warm_s": 60.0}, id="blue-green-drops-steps"),
        pytest.param({**FLAT, "strategy": "rolling"}, "rolling", {}, id="rolling"),
        pytest.param({**FLAT, "strategy": "upgrade", "cluster": {"image": "x:1", "incremental": None},
                      "target": {"kind": "kuberay", "namespace": "serving", "rayservice": "raynomaly"}},
                     "upgrade", {"image": "x:1", "incremental": None}, id="upgrade-from-cluster"),
        pytest.param({"strategy": "blue-green", "steps": None}, "blue_green",
                     {"shadow_percent": 100.0, "warm_s": 300.0}, id="nulls-are-absent"),
    ],
)  # fmt: skip
def test_the_flat_shape_of_earlier_releases_is_read_into_its_strategy_field(flat, field, options):
    spec = RolloutSpec.model_validate({"model": "fraud", "candidate": 2, **flat})
    assert getattr(spec, field).model_dump() == options


SERVED = Served(ModelTraffic(weights={1: 100}), {1: ScorerOptions()})


@pytest.mark.parametrize(
    ("served", "fields", "says"),
    [
        pytest.param(Served(ModelTraffic(weights={1: 90, 2: 10})), {}, "mid-change", id="split-model"),
        pytest.param(SERVED, {"candidate": 1}, "already serves", id="candidate-is-stable"),
        pytest.param(SERVED, {"rolling": {}}, "changes the options of the version serving", id="rolling-new"),
        pytest.param(SERVED, {"rolling": {}, "candidate": 1}, "needs the new scorer options", id="no-opts"),
        pytest.param(Served(None), {"shadow": {}}, "needs a version to mirror", id="shadow-unserved"),
    ],
)
def test_rollouts_that_cannot_start_are_refused_saying_what_to_do(served, fields, says):
    spec = RolloutSpec(**{"model": "fraud", "candidate": 2, **fields})
    with pytest.raises(RolloutRefused, match=says):
        new_rollout(spec, served, 0.0)


def test_a_new_rollout_remembers_the_stable_version_and_its_options():
    options = ScorerOptions(placement="dedicated", num_replicas=2)
    spec = RolloutSpec(model="fraud", candidate=1, rolling={}, options=options)
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


def test_the_load_test_gate_is_refused_on_another_local_runtime():
    gate = LoadTest.parse("users=4,duration=30s,p99=200")
    with pytest.raises(ValueError, match="load-test gate sends load to the controller's own runtime"):
        RolloutSpec(model="fraud", candidate=2, loadtest=gate, target=TargetRef(home="/srv/staging"))
    assert RolloutSpec(model="fraud", candidate=2, loadtest=gate).loadtest == gate
