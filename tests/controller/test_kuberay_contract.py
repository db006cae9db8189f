"""The contract the KubeRay target relies on, checked against the fake API server (always) and
against a real cluster with KubeRay (opt in: `KUBECONFIG=... pytest -m contract`, in the
namespace `RAYNOMALY_CONTRACT_NAMESPACE`, default `raynomaly-contract`, which must exist).

The same tests run on both, so the double cannot drift from what a real API server does with
the objects the project writes: admission of the base's RayService and RayJob, JSON patches of
serveConfigV2 with the annotation, and 409 on a stale resourceVersion.
"""

import os
import uuid

import pytest
import yaml

from controller.kuberay import manifests
from controller.kuberay.api import KubeApi
from controller.kuberay.status import ANNOTATION, desired_of, operations
from runtime.conflict import Conflict
from runtime.desired import DeployedVersion, ScorerOptions
from runtime.traffic import ModelTraffic, TrafficTable
from tests.kube.apiserver import FakeKubeApiServer
from tests.kube.schema import load_crds, requires_crds

pytestmark = requires_crds


@pytest.fixture(
    scope="module",
    params=["double", pytest.param("cluster", marks=[pytest.mark.contract, pytest.mark.integration])],
)
def cluster(request, tmp_path_factory):
    """(KubeApi, namespace) of the fake API server, or of the cluster KUBECONFIG names."""
    if request.param == "cluster":
        if "KUBECONFIG" not in os.environ:
            pytest.fail("the contract suite needs KUBECONFIG pointing at a cluster with KubeRay v1.7")
        yield (
            KubeApi.connect(os.environ["KUBECONFIG"]),
            os.environ.get("RAYNOMALY_CONTRACT_NAMESPACE", "raynomaly-contract"),
        )
        return
    with FakeKubeApiServer(load_crds(), namespaces=("contract",)) as server:
        yield (
            KubeApi.connect(str(server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig"))),
            "contract",
        )


def base_object(kind: str, namespace: str) -> dict:
    obj = next(o for o in manifests.render(namespace=namespace) if o["kind"] == kind)
    obj["metadata"]["name"] = f"contract-{uuid.uuid4().hex[:8]}"
    if kind == "RayJob":
        obj["spec"]["suspend"] = True  # admitted, never run
    return obj


@pytest.fixture
def rayservice(cluster):
    api, namespace = cluster
    created = api.create(base_object("RayService", namespace))
    yield api, created
    api.delete("RayService", namespace, created["metadata"]["name"])


@pytest.mark.parametrize("kind", ["RayService", "RayJob"])
def test_the_base_objects_are_admitted_with_the_defaults_the_crd_declares(cluster, kind):
    api, namespace = cluster
    created = api.create(base_object(kind, namespace))
    try:
        assert created["metadata"]["generation"] == 1 and created["metadata"]["resourceVersion"]
        if kind == "RayJob":
            assert created["spec"]["submissionMode"] == "K8sJobMode"  # a CRD default
        else:
            assert created["spec"]["serveConfigV2"]
    finally:
        api.delete(kind, namespace, created["metadata"]["name"])


DEDICATED = ScorerOptions(placement="dedicated")


def test_a_guarded_json_patch_writes_the_serve_config_and_its_desired_state(rayservice):
    api, live = rayservice
    desired = desired_of(live)
    changed = desired.model_copy(
        update={"versions": [DeployedVersion(model="fraud", version=1, options=DEDICATED)],
                "traffic": TrafficTable(models={"fraud": ModelTraffic(weights={1: 100})})}
    )  # fmt: skip
    metadata = live["metadata"]
    patched = api.patch("RayService", metadata["namespace"], metadata["name"], operations(live, changed))
    assert desired_of(patched) == changed
    assert "fraud--v1" in {
        a["name"] for a in yaml.safe_load(patched["spec"]["serveConfigV2"])["applications"]
    }
    assert patched["metadata"]["generation"] == metadata["generation"] + 1
    assert patched["metadata"]["annotations"][ANNOTATION] == changed.model_dump_json()


def test_a_patch_computed_on_a_stale_resource_version_is_refused_with_409(rayservice):
    api, stale = rayservice
    metadata = stale["metadata"]
    api.patch("RayService", metadata["namespace"], metadata["name"], operations(stale, desired_of(stale)))
    newer = api.get("RayService", metadata["namespace"], metadata["name"])
    newer["spec"]["serviceUnhealthySecondThreshold"] = 120
    api.replace(newer)  # someone else wrote since `stale` was read
    with pytest.raises(Conflict, match="modified"):
        api.patch("RayService", metadata["namespace"], metadata["name"], operations(stale, desired_of(stale)))
