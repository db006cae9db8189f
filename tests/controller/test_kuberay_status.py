"""What the KubeRay target reads from a RayService and writes to it (pure): truth tables."""

import json

import pytest
import yaml

from controller.kuberay.status import ANNOTATION, NotManaged, desired_of, operations, readiness, upgrade
from runtime.desired import DeployedVersion, DesiredState, ScorerOptions
from runtime.serveconfig import render
from runtime.serving import DeployFailed
from runtime.traffic import ModelTraffic, TrafficTable

DEDICATED = ScorerOptions(placement="dedicated")
DESIRED = DesiredState(
    store="/models",
    versions=[DeployedVersion(model="fraud", version=v, options=DEDICATED) for v in (1, 2)],
    traffic=TrafficTable(models={"fraud": ModelTraffic(weights={1: 90, 2: 10})}),
)
RUNNING = {"status": "RUNNING", "message": ""}
DEPLOYING = {"status": "DEPLOYING"}
NOT_READY = [{"type": "Ready", "status": "False", "reason": "ZeroServeEndpoints"}]


def rayservice(generation=3, observed=3, apps=None, conditions=None, pending=None, annotation=DESIRED):
    status = {
        "observedGeneration": observed,
        "activeServiceStatus": {"applicationStatuses": apps if apps is not None else {
            "gateway": RUNNING, "fraud--v1": RUNNING, "fraud--v2": RUNNING}},
        "conditions": conditions if conditions is not None else [{"type": "Ready", "status": "True"}],
    }  # fmt: skip
    if pending:
        status["pendingServiceStatus"] = {"rayClusterName": pending}
    annotations = {ANNOTATION: annotation.model_dump_json()} if annotation is not None else {}
    return {
        "metadata": {"name": "raynomaly", "generation": generation, "resourceVersion": "42",
                     "annotations": annotations},
        "spec": {"serveConfigV2": ""},
        "status": status,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("obj", "waiting"),
    [
        pytest.param(rayservice(), None, id="all-running-and-ready"),
        pytest.param(rayservice(generation=4), "reconcile generation 4", id="generation-not-observed"),
        pytest.param(
            rayservice(conditions=[{"type": "UpgradeInProgress", "status": "True", "reason": "BothActive"}]),
            "UpgradeInProgress", id="upgrade-in-progress"),
        pytest.param(
            rayservice(conditions=[{"type": "RollbackInProgress", "status": "True", "message": "reverting"}]),
            "RollbackInProgress (reverting)", id="rollback-in-progress"),
        pytest.param(rayservice(pending="raynomaly-abcde"), "cluster raynomaly-abcde", id="pending-cluster"),
        pytest.param(rayservice(apps={"gateway": RUNNING, "fraud--v1": RUNNING}), "fraud--v2 (NOT_STARTED)",
                     id="version-not-started"),
        pytest.param(rayservice(apps={"gateway": DEPLOYING, "fraud--v1": RUNNING, "fraud--v2": RUNNING}),
                     "gateway (DEPLOYING)", id="gateway-deploying"),
        pytest.param(rayservice(conditions=NOT_READY), "ZeroServeEndpoints", id="not-ready"),
        pytest.param(rayservice(conditions=[]), None, id="no-conditions-yet-but-apps-running"),
    ],
)  # fmt: skip
def test_readiness(obj, waiting):
    awaited = readiness(obj, DESIRED)
    assert awaited == waiting if waiting is None else waiting in awaited


def test_an_application_serve_failed_to_deploy_fails_rather_than_being_awaited_forever():
    apps = {
        "gateway": RUNNING,
        "fraud--v1": RUNNING,
        "fraud--v2": {"status": "DEPLOY_FAILED", "message": "boom"},
    }
    with pytest.raises(DeployFailed, match="^fraud--v2 failed to deploy: boom$"):
        readiness(rayservice(apps=apps), DESIRED)


def test_upgrade_is_none_when_conditions_are_false():
    obj = rayservice(conditions=[{"type": "UpgradeInProgress", "status": "False"}])
    assert upgrade(obj) is None


def test_the_desired_state_comes_from_the_annotation():
    assert desired_of(rayservice()) == DESIRED


@pytest.mark.parametrize("annotation", [None, "{not json"], ids=["missing", "garbled"])
def test_a_rayservice_without_a_valid_desired_state_is_not_managed(annotation):
    obj = rayservice(annotation=None)
    if annotation is not None:
        obj["metadata"]["annotations"][ANNOTATION] = annotation
    with pytest.raises(NotManaged, match="raynomaly kuberay apply|not a desired state"):
        desired_of(obj)


def test_one_guarded_patch_writes_the_config_and_the_annotation_together():
    ops = operations(rayservice(), DESIRED)
    assert ops[0] == {"op": "replace", "path": "/metadata/resourceVersion", "value": "42"}
    by_path = {op["path"]: op["value"] for op in ops}
    assert yaml.safe_load(by_path["/spec/serveConfigV2"]) == json.loads(json.dumps(render(DESIRED)))
    assert (
        DesiredState.model_validate_json(by_path["/metadata/annotations/raynomaly.io~1desired-state"])
        == DESIRED
    )
