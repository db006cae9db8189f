"""The rendered Serve config passes Ray's own ServeDeploySchema and says what the desired state says:
inline versions live in the gateway's user_config, dedicated ones are applications of their own."""

import pytest
from pydantic import ValidationError

from runtime.desired import (
    GATEWAY_APP,
    Autoscaling,
    Batching,
    DeployedVersion,
    DesiredState,
    GatewayConfig,
    GatewayLimits,
    GatewayOptions,
    ScorerOptions,
    ScorerSettings,
    gateway_config,
)
from runtime.serveconfig import render, validate
from runtime.traffic import ModelTraffic, TrafficTable

DEDICATED = {"placement": "dedicated"}


def desired(gateway: GatewayOptions | None = None, **options) -> DesiredState:
    return DesiredState(
        store="/data/models",
        versions=[
            DeployedVersion(model="fraud", version=1),
            DeployedVersion(model="fraud", version=2, options=ScorerOptions(**options)),
        ],
        traffic=TrafficTable(models={"fraud": ModelTraffic(weights={1: 90, 2: 10})}),
        gateway=gateway or GatewayOptions(),
    )


def apps(config: dict) -> dict[str, dict]:
    return {app["name"]: app for app in config["applications"]}


def test_inline_versions_live_in_the_gateway():
    config = validate(render(desired()))
    assert set(apps(config)) == {GATEWAY_APP}
    gateway = apps(config)[GATEWAY_APP]
    assert gateway["route_prefix"] == "/"
    user_config = gateway["deployments"][0]["user_config"]
    fraud = user_config["traffic"]["models"]["fraud"]
    assert fraud == {"weights": {"1": 90, "2": 10}, "shadows": {}, "sticky_header": None, "stable": None}
    assert user_config["store"] == "/data/models"
    assert user_config["versions"] == [{"model": "fraud", "version": 1}, {"model": "fraud", "version": 2}]
    assert config["http_options"] == {"host": "127.0.0.1", "port": 8000}


def test_the_gateways_user_config_is_its_config_with_the_limits_of_its_options():
    access = {
        "secret_file": "/run/secrets/jwt",
        "revoked_file": None,
        "rate": 5.0,
        "burst": 10,
        "max_clients": 100,
    }
    limits = {"shadow_max_in_flight": 3, "max_body_bytes": 4096, "max_rows": 10, "max_inline_versions": 2,
              "access": access}  # fmt: skip
    assert set(limits) == set(GatewayLimits.model_fields)  # a new limit gets a value here too
    state = desired(GatewayOptions(num_replicas=2, **limits)).model_copy(update={"revision": 7})
    user_config = apps(render(state))[GATEWAY_APP]["deployments"][0]["user_config"]
    config = GatewayConfig.model_validate(user_config)
    assert config == gateway_config(state)
    assert config.model_dump(include=set(limits)) == limits and config.revision == 7
    assert config.replicas == 2  # the replicas sharing each client's quota
    assert (config.store, config.traffic, config.versions) == (state.store, state.traffic, state.versions)


def test_a_dedicated_version_is_its_own_application_without_a_route():
    config = validate(render(desired(**DEDICATED)))
    assert set(apps(config)) == {GATEWAY_APP, "fraud--v2"}
    scorer = apps(config)["fraud--v2"]
    assert scorer["route_prefix"] is None  # reachable only through the gateway
    assert scorer["args"] == {"store": "/data/models", "model": "fraud", "version": 2}
    placed = apps(config)[GATEWAY_APP]["deployments"][0]["user_config"]["versions"][1]
    assert placed == {"model": "fraud", "version": 2, "options": {"placement": "dedicated"}}


def test_dedicated_options_pass_through():
    options = {
        **DEDICATED,
        "autoscaling": Autoscaling(min_replicas=1, max_replicas=3),
        "num_gpus": 0.25,
        "num_cpus": 1.0,
        "batching": Batching(max_batch_size=128, batch_wait_timeout_s=0.002),
        "max_ongoing_requests": 512,
    }
    scorer = apps(validate(render(desired(**options))))["fraud--v2"]["deployments"][0]
    assert scorer["autoscaling_config"]["max_replicas"] == 3 and "num_replicas" not in scorer
    assert scorer["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 0.25}
    assert scorer["user_config"] == {
        "batching": {"max_batch_size": 128, "batch_wait_timeout_s": 0.002},
        "input_drift": True,
    }
    assert scorer["max_ongoing_requests"] == 512


def test_a_dedicated_version_counts_input_drift_unless_switched_off():
    counting = apps(validate(render(desired(**DEDICATED))))["fraud--v2"]["deployments"][0]
    assert ScorerSettings.model_validate(counting["user_config"]).input_drift is True
    off = apps(validate(render(desired(**DEDICATED, input_drift=False))))["fraud--v2"]["deployments"][0]
    assert ScorerSettings.model_validate(off["user_config"]) == ScorerSettings(
        batching=Batching(max_batch_size=1, batch_wait_timeout_s=0.0), input_drift=False
    )


def test_gpu_versions_are_dedicated_and_batch_by_default():
    scorer = apps(validate(render(desired(num_gpus=1.0))))["fraud--v2"]["deployments"][0]
    assert ScorerSettings.model_validate(scorer["user_config"]).batching == Batching()
    assert ScorerOptions().effective_batching.enabled is False  # on the CPU it does not pay


def test_the_gateway_autoscales_when_asked():
    scaling = Autoscaling(min_replicas=1, max_replicas=2, target_ongoing_requests=16)
    gateway = apps(validate(render(desired(GatewayOptions(autoscaling=scaling)))))[GATEWAY_APP]
    deployment = gateway["deployments"][0]
    assert deployment["autoscaling_config"]["max_replicas"] == 2 and "num_replicas" not in deployment


def test_draining_applications_run_until_the_next_state():
    state = desired()
    draining = state.model_copy(
        update={"draining": [DeployedVersion(model="fraud", version=2, options=ScorerOptions(**DEDICATED))]}
    )
    assert set(apps(validate(render(draining)))) == {GATEWAY_APP, "fraud--v2"}
    assert draining.applications == [GATEWAY_APP, "fraud--v2"]


def test_ray_schema_catches_what_ray_refuses():
    config = render(desired(**DEDICATED))
    config["applications"][1]["route_prefix"] = "/"
    with pytest.raises(ValueError, match="duplicate applications for route prefix"):
        validate(config)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: ScorerOptions(**DEDICATED, max_ongoing_requests=8, batching=Batching()),
            "at least max_batch_size",
            id="batch-cannot-fill",
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
        pytest.param(
            lambda: ScorerOptions(num_replicas=2),
            'num_replicas configure a version\'s own deployment: add "placement": "dedicated"',
            id="replicas-of-an-inline-version",
        ),
        pytest.param(
            lambda: ScorerOptions(placement="inline", num_gpus=1),
            "num_gpus > 0 is served dedicated",
            id="gpu-inline",
        ),
        pytest.param(
            lambda: desired(GatewayOptions(max_inline_versions=1)),
            "2 inline versions \\(fraud:1, fraud:2\\) are more than each gateway replica holds",
            id="too-many-inline",
        ),
    ],
)
def test_desired_state_refuses_inconsistencies(build, message):
    with pytest.raises(ValidationError, match=message):
        build()
