"""`raynomaly kuberay render|apply`: the stream kubectl takes, and applying the base to the fake
Kubernetes API server (a double over real HTTP, with KubeRay's CRDs and no Prometheus operator)
without undoing what a rollout wrote."""

import re

import pytest
import yaml
from typer.testing import CliRunner

from controller.cli import app
from controller.kuberay import status
from controller.kuberay.api import KubeApi
from runtime.desired import DeployedVersion
from runtime.serveconfig import render
from runtime.traffic import ModelTraffic, TrafficTable
from tests.kube.apiserver import FakeKubeApiServer
from tests.kube.schema import load_crds, requires_crds

runner = CliRunner()
NAMESPACE = "serving"
IMAGE = "registry.example:5000/raynomaly:2.0"


def invoke(*args: str):
    return runner.invoke(app, ["kuberay", *args], catch_exceptions=False)


def lines(text: str) -> dict[str, str]:
    """{"Kind namespace/name": "what happened"} from apply's one line per object."""
    return {
        m["what"]: m["verb"] for m in re.finditer(r"^(?P<verb>[a-z ]+?) +(?P<what>\w+ \S+/\S+)", text, re.M)
    }


def test_render_prints_one_stream_with_image_and_namespace():
    result = invoke("render", "--image", IMAGE, "--namespace", NAMESPACE)
    assert result.exit_code == 0, result.output
    objects = list(yaml.safe_load_all(result.stdout))
    assert {o["kind"] for o in objects} >= {"RayService", "RayJob", "Deployment", "PodMonitor", "Role"}
    assert {o["metadata"]["namespace"] for o in objects} == {NAMESPACE}
    assert set(re.findall(r"\bimage: (\S+)", result.stdout)) == {IMAGE, "raynomaly-gpu:0.1.0"}


def test_render_refuses_a_malformed_image():
    result = invoke("render", "--image", "raynomaly:")
    assert result.exit_code == 2 and "NAME:TAG" in result.stderr


@pytest.fixture
def cluster(tmp_path):
    with FakeKubeApiServer(load_crds(), namespaces=(NAMESPACE,)) as server:
        kubeconfig = str(server.write_kubeconfig(tmp_path / "kubeconfig"))
        yield KubeApi.connect(kubeconfig), ["--namespace", NAMESPACE, "--kubeconfig", kubeconfig]


def roll_out(api: KubeApi) -> str:
    """What a rollout writes: version 1 of fraud in serveConfigV2 and the annotation, in one patch."""
    rayservice = api.get("RayService", NAMESPACE, "raynomaly")
    desired = status.desired_of(rayservice).model_copy(
        update={
            "versions": [DeployedVersion(model="fraud", version=1)],
            "traffic": TrafficTable(models={"fraud": ModelTraffic(weights={1: 100})}),
        }
    )
    api.patch("RayService", NAMESPACE, "raynomaly", status.operations(rayservice, desired))
    return desired.model_dump_json()


@requires_crds
def test_apply_creates_then_updates_and_never_undoes_a_rollout(cluster):
    api, flags = cluster
    first = invoke("apply", *flags)
    created = lines(first.stdout)
    assert set(created.values()) == {"created"}
    assert (
        f"RayService {NAMESPACE}/raynomaly" in created
        and f"Deployment {NAMESPACE}/raynomaly-controller" in created
    )
    assert (
        "missing" in first.stderr and "Prometheus operator" in first.stderr and "PodMonitor" in first.stderr
    )
    assert first.exit_code == 1

    state = roll_out(api)
    again = lines(invoke("apply", *flags).stdout)
    assert again.keys() == created.keys() and set(again.values()) == {"unchanged"}  # the rollout's state too
    second = invoke("apply", *flags, "--image", IMAGE)
    assert second.exit_code == 1 and "Prometheus operator" in second.stderr
    updated = {what.split()[0] for what, verb in lines(second.stdout).items() if verb == "updated"}
    assert updated == {"Deployment", "RayService", "RayJob"}
    rayservice = api.get("RayService", NAMESPACE, "raynomaly")
    assert rayservice["metadata"]["annotations"][status.ANNOTATION] == state
    assert yaml.safe_load(rayservice["spec"]["serveConfigV2"]) == render(status.desired_of(rayservice))
    assert [v.app_name for v in status.desired_of(rayservice).versions] == ["fraud--v1"]
    head = rayservice["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["image"] == IMAGE
    deployment = api.get("Deployment", NAMESPACE, "raynomaly-controller")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE


@requires_crds
def test_dry_run_writes_nothing(cluster):
    api, flags = cluster
    invoke("apply", *flags)
    before = api.get("RayService", NAMESPACE, "raynomaly")["metadata"]["resourceVersion"]
    result = invoke("apply", *flags, "--dry-run", "--image", IMAGE)
    assert set(lines(result.stdout).values()) == {"would update"}
    assert set(lines(result.stderr).values()) == {"missing"} and result.exit_code == 1
    assert api.get("RayService", NAMESPACE, "raynomaly")["metadata"]["resourceVersion"] == before


@requires_crds
def test_a_missing_namespace_is_named(cluster):
    _, flags = cluster
    result = invoke("apply", *flags[2:], "--namespace", "elsewhere")
    assert result.exit_code == 1 and "kubectl create namespace elsewhere" in result.stderr
