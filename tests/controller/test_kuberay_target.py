"""The KubeRay target against the fake Kubernetes API server (a double, over real HTTP with the
official client): guarded patches, 409 retries, staging, upgrades and status parsing."""

import pytest
import yaml

from controller.kuberay.api import KubeApi
from controller.kuberay.status import ANNOTATION, desired_of
from controller.targets.cluster import ClusterChange, IncrementalUpgrade
from controller.targets.kuberay import PATCH_ATTEMPTS, KubeRayTarget
from controller.targets.spec import TargetError, Waiting
from runtime.desired import DeployedVersion, DesiredState, ScorerOptions
from runtime.serveconfig import render
from runtime.serving import DeployFailed
from runtime.traffic import ModelTraffic, TrafficTable
from tests.kube.apiserver import FakeKubeApiServer
from tests.kube.schema import load_crds, requires_crds

pytestmark = requires_crds
NAMESPACE, NAME = "serving", "raynomaly"
START = DesiredState(
    store="/models",
    versions=[DeployedVersion(model="fraud", version=1)],
    traffic=TrafficTable(models={"fraud": ModelTraffic(weights={1: 100})}),
)


def rayservice(desired: DesiredState) -> dict:
    container = {"name": "ray-head", "image": "raynomaly:test"}

    def workers(name: str, image: str) -> dict:
        pod = {"spec": {"containers": [{"name": "ray-worker", "image": image}]}}
        return {"groupName": name, "rayStartParams": {}, "template": pod, "minReplicas": 0, "maxReplicas": 2}

    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "annotations": {ANNOTATION: desired.model_dump_json()},
        },
        "spec": {
            "serveConfigV2": yaml.safe_dump(render(desired)),
            "upgradeStrategy": {"type": "NewCluster"},
            "rayClusterConfig": {
                "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [container]}}},
                "workerGroupSpecs": [workers("cpu", "raynomaly:test"), workers("gpu", "raynomaly-gpu:test")],
            },
        },
    }


@pytest.fixture(scope="module")
def server():
    with FakeKubeApiServer(load_crds(), namespaces=(NAMESPACE,)) as server:
        yield server


class World:
    """The RayService in the fake API server, and a status writer standing in for the operator."""

    def __init__(self, server, tmp_path):
        self.server = server
        self.api = KubeApi.connect(str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        self.api.create(rayservice(START))
        self.sleeps, self.seen = 0, len(server.requests)  # the server outlives each test
        self.on_sleep = self.mark_running
        self.target = KubeRayTarget(self.api, NAMESPACE, NAME, sleep=self._sleep, settle_timeout_s=5)

    def _sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.on_sleep()

    def get(self) -> dict:
        return self.api.get("RayService", NAMESPACE, NAME)

    def set_status(self, apps: dict[str, str], conditions=(), **extra) -> None:
        obj = self.get()
        obj["status"] = {
            "observedGeneration": obj["metadata"]["generation"],
            "activeServiceStatus": {
                "applicationStatuses": {a: {"status": s, "message": f"{a} {s}"} for a, s in apps.items()}
            },
            "conditions": [{"type": t, "status": v, "reason": "Test", "message": "",
                            "lastTransitionTime": "2026-11-26T00:00:00Z"} for t, v in conditions],
            **extra,
        }  # fmt: skip
        from kubernetes import client

        custom = client.CustomObjectsApi(self.server.api_client())
        custom.replace_namespaced_custom_object_status("ray.io", "v1", NAMESPACE, "rayservices", NAME, obj)

    def mark_running(self) -> None:
        """What the operator does once Serve runs every application of the current config."""
        desired = desired_of(self.get())
        self.set_status({"gateway": "RUNNING", **{v.app_name: "RUNNING" for v in desired.versions}})

    def patches(self) -> list[tuple[str, str, str]]:
        requests = self.server.requests[self.seen :]
        return [r for r in requests if r[0] == "PATCH" and r[1].endswith(f"/rayservices/{NAME}")]


@pytest.fixture
def world(server, tmp_path):
    world = World(server, tmp_path)
    yield world
    world.api.delete("RayService", NAMESPACE, NAME)


def test_a_new_version_is_deployed_unrouted_first_then_routed_in_json_patches(world):
    world.target.apply("fraud", ModelTraffic(weights={1: 90, 2: 10}), {})
    assert [p[2].split(";")[0] for p in world.patches()] == ["application/json-patch+json"] * 2
    assert world.sleeps >= 1  # it waited for the unrouted table to run
    live = world.get()
    desired = desired_of(live)
    assert desired.traffic.models["fraud"].weights == {1: 90, 2: 10}
    assert yaml.safe_load(live["spec"]["serveConfigV2"]) == yaml.safe_load(yaml.safe_dump(render(desired)))
    assert world.target.served("fraud").traffic.weights == {1: 90, 2: 10}


def test_a_conflict_is_retried_on_the_newer_object_and_keeps_the_other_writers_change(world):
    world.target.apply("fraud", ModelTraffic(weights={1: 100}), {})  # no version arrives: one patch
    churn = {"churn": ModelTraffic(weights={1: 100})}
    other = desired_of(world.get()).model_copy(
        update={"versions": [*START.versions, DeployedVersion(model="churn", version=1)],
                "traffic": TrafficTable(models={**START.traffic.models, **churn})}
    )  # fmt: skip
    obj = world.get()
    obj["metadata"]["annotations"][ANNOTATION] = other.model_dump_json()
    obj["spec"]["serveConfigV2"] = yaml.safe_dump(render(other))
    world.api.replace(obj)  # another writer changed the RayService after the target read it
    world.on_sleep = lambda: None  # the back-off between attempts must not write the status
    world.server.faults.conflicts(2, plural="rayservices")
    before = len(world.patches())
    world.target.apply("fraud", ModelTraffic(weights={1: 100}, shadows={}), {})
    assert len(world.patches()) - before == 3
    desired = desired_of(world.get())
    assert set(desired.traffic.models) == {"fraud", "churn"}  # recomputed on the newer object


def test_endless_conflicts_give_up_with_an_error_that_names_the_cause(world):
    world.on_sleep = lambda: None
    world.server.faults.conflicts(PATCH_ATTEMPTS, plural="rayservices")
    with pytest.raises(TargetError, match="kept changing"):
        world.target.apply("fraud", ModelTraffic(weights={1: 100}), {})


def test_weights_wait_while_kuberay_upgrades_the_cluster_and_nothing_is_patched(world):
    world.set_status({"gateway": "RUNNING", "fraud--v1": "RUNNING"}, [("UpgradeInProgress", "True")],
                     pendingServiceStatus={"rayClusterName": "raynomaly-new"})  # fmt: skip
    with pytest.raises(Waiting, match="UpgradeInProgress"):
        world.target.apply("fraud", ModelTraffic(weights={1: 90, 2: 10}), {})
    assert world.patches() == []
    assert "UpgradeInProgress" in world.target.readiness("fraud")


def test_an_application_serve_cannot_deploy_fails_the_step(world):
    def failed() -> None:
        world.set_status({"gateway": "RUNNING", "fraud--v1": "RUNNING", "fraud--v2": "DEPLOY_FAILED"})

    world.on_sleep = failed
    with pytest.raises(DeployFailed, match="fraud--v2 failed to deploy"):
        dedicated = {2: ScorerOptions(placement="dedicated")}
        world.target.apply("fraud", ModelTraffic(weights={1: 90, 2: 10}), dedicated)


def test_readiness_follows_the_observed_generation(world):
    world.mark_running()
    assert world.target.readiness("fraud") is None
    obj = world.get()
    obj["spec"]["serviceUnhealthySecondThreshold"] = 60  # a spec change: generation + 1
    world.api.replace(obj)
    assert "reconcile generation" in world.target.readiness("fraud")


def test_a_rayservice_raynomaly_does_not_manage_is_refused(world, server):
    obj = rayservice(START)
    obj["metadata"] = {"name": "other", "namespace": NAMESPACE}
    world.api.create(obj)
    try:
        target = KubeRayTarget(world.api, NAMESPACE, "other")
        with pytest.raises(TargetError, match="raynomaly kuberay apply"):
            target.served("fraud")
    finally:
        world.api.delete("RayService", NAMESPACE, "other")


def test_a_missing_rayservice_is_an_error_naming_it(world):
    with pytest.raises(TargetError, match="missing"):
        KubeRayTarget(world.api, NAMESPACE, "missing").served("fraud")


def images(obj: dict) -> list[str]:
    config = obj["spec"]["rayClusterConfig"]
    pods = [config["headGroupSpec"]["template"], *(g["template"] for g in config["workerGroupSpecs"])]
    return [c["image"] for pod in pods for c in pod["spec"]["containers"]]


def test_an_upgrade_changes_the_image_through_kuberays_upgrade_strategy_once(world):
    assert world.target.served("fraud").cluster == ClusterChange(image="raynomaly:test")
    incremental = IncrementalUpgrade(step_size_percent=25, interval_seconds=30, gateway_class_name="istio")
    change = ClusterChange(image="registry/raynomaly:1.1", incremental=incremental)
    world.target.upgrade(change)
    live = world.get()
    assert images(live) == ["registry/raynomaly:1.1", "registry/raynomaly:1.1", "raynomaly-gpu:test"]
    assert live["spec"]["upgradeStrategy"] == {
        "type": "NewClusterWithIncrementalUpgrade",
        "clusterUpgradeOptions": {"stepSizePercent": 25, "intervalSeconds": 30, "maxSurgePercent": 100,
                                  "gatewayClassName": "istio"},
    }  # fmt: skip
    assert world.target.served("fraud").cluster == change
    world.target.upgrade(change)  # already asked for: nothing to patch
    assert len(world.patches()) == 1
    world.target.upgrade(ClusterChange(image="raynomaly:test"))  # the revert a rollback makes
    assert images(world.get())[:2] == ["raynomaly:test", "raynomaly:test"]
    assert world.get()["spec"]["upgradeStrategy"] == {"type": "NewCluster"}
