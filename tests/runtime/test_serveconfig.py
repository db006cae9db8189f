"""The rendered Serve config passes Ray's own ServeDeploySchema and says what the desired state says."""

import pytest
from pydantic import ValidationError

from runtime.desired import Autoscaling, Batching, DeployedVersion, DesiredState, ScorerOptions
from runtime.serveconfig import GATEWAY_APP, render, validate
from runtime.traffic import ModelTraffic, TrafficTable


def desired(**options) -> DesiredState:
    return DesiredState(
        store="/data/models",
        versions=[
            DeployedVersion(model="fraud", version=1),
            DeployedVersion(model="fraud", version=2, options=ScorerOptions(**options)),
        ],
        traffic=TrafficTable(models={"fraud": ModelTraffic(weights={1: 90, 2: 10})}),
    )


def test_render_is_valid_for_ray():
    config = validate(render(desired()))
    apps = {app["name"]: app for app in config["applications"]}
    assert set(apps) == {GATEWAY_APP, "fraud--v1", "fraud--v2"}
    assert apps[GATEWAY_APP]["route_prefix"] == "/"
    assert apps["fraud--v1"]["route_prefix"] is None  # versions are reachable only through the gateway
    assert apps["fraud--v2"]["args"] == {"store": "/data/models", "model": "fraud", "version": 2}
    gateway = apps[GATEWAY_APP]["deployments"][0]
    fraud = gateway["user_config"]["traffic"]["models"]["fraud"]
    assert fraud == {"weights": {"1": 90, "2": 10}, "shadows": {}, "sticky_header": None, "stable": None}
    assert config["http_options"] == {"host": "127.0.0.1", "port": 8000}


def test_options_pass_through():
    options = {
        "autoscaling": Autoscaling(min_replicas=1, max_replicas=3),
        "num_gpus": 0.25,
        "num_cpus": 1.0,
        "batching": Batching(max_batch_size=128, batch_wait_timeout_s=0.002),
        "max_ongoing_requests": 512,
    }
    config = validate(render(desired(**options)))
    scorer = next(a for a in config["applications"] if a["name"] == "fraud--v2")["deployments"][0]
    assert scorer["autoscaling_config"]["max_replicas"] == 3 and "num_replicas" not in scorer
    assert scorer["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 0.25}
    assert scorer["user_config"] == {"max_batch_size": 128, "batch_wait_timeout_s": 0.002}
    assert scorer["max_ongoing_requests"] == 512


def test_ray_schema_catches_what_ray_refuses():
    config = render(desired())
    config["applications"][1]["route_prefix"] = "/"
    with pytest.raises(ValueError, match="duplicate applications for route prefix"):
        validate(config)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: ScorerOptions(max_ongoing_requests=8), "at least max_batch_size", id="batch-cannot-fill"
        ),
        pytest.param(
            lambda: Autoscaling(min_replicas=3, max_replicas=2),
            "min_replicas 3 > max_replicas 2",
            id="bounds",
        ),
        pytest.param(
            lambda: DesiredState(
                store="s", traffic=TrafficTable(models={"m": ModelTraffic(weights={1: 100})})
            ),
            "not deployed: \\[1\\]",
            id="traffic-to-undeployed",
        ),
    ],
)
def test_desired_state_refuses_inconsistencies(build, message):
    with pytest.raises(ValidationError, match=message):
        build()
