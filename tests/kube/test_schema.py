"""CRD-based admission (a double of the API server's, from the real KubeRay v1.7.0 CRDs): what is
stored for a custom object, and every reason one is refused."""

import copy

import pytest

from tests.kube.celrules import RuleError
from tests.kube.manifests import HEAD, configmap, deployment, rayjob, rayservice
from tests.kube.schema import CustomResource, Invalid, load_crds, requires_crds, validate_core

pytestmark = requires_crds
OPTIONS = {"gatewayClassName": "istio", "stepSizePercent": 10, "intervalSeconds": 30}
UPGRADE = {"type": "NewClusterWithIncrementalUpgrade", "clusterUpgradeOptions": OPTIONS}
CONTAINER = "spec.rayClusterConfig.headGroupSpec.template.spec.containers"


@pytest.fixture(scope="module")
def crds():
    return load_crds()


def causes(admit, *args) -> list[str]:
    with pytest.raises(Invalid) as refused:
        admit(*args)
    return refused.value.causes


def at(obj: dict, path: str):
    for key in path.split("."):
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    return obj


def test_the_three_kuberay_kinds_load_with_their_served_version(crds):
    assert {k: (c.plural, c.version, c.namespaced, c.status_subresource) for k, c in crds.items()} == {
        "RayService": ("rayservices", "v1", True, True),
        "RayJob": ("rayjobs", "v1", True, True),
        "RayCluster": ("rayclusters", "v1", True, True),
    }


def test_a_minimal_rayservice_is_admitted_as_a_new_object(crds):
    obj = rayservice()
    before = copy.deepcopy(obj)
    admitted = crds["RayService"].admit(obj)
    assert admitted["spec"]["rayClusterConfig"] == before["spec"]["rayClusterConfig"]
    assert obj == before and admitted is not obj


@pytest.mark.parametrize(
    "kind, obj, path, default",
    [
        pytest.param(
            "RayService",
            rayservice(upgradeStrategy=UPGRADE),
            "spec.upgradeStrategy.clusterUpgradeOptions.maxSurgePercent",
            100,
            id="max-surge-percent",
        ),
        pytest.param("RayJob", rayjob(), "spec.submissionMode", "K8sJobMode", id="submission-mode"),
        pytest.param("RayJob", rayjob(), "spec.backoffLimit", 0, id="backoff-limit"),
        pytest.param(
            "RayService",
            rayservice(containers=[{**HEAD, "ports": [{"containerPort": 8000}]}]),
            "spec.rayClusterConfig.headGroupSpec.template.spec.containers.0.ports.0.protocol",
            "TCP",
            id="in-list-items",
        ),
    ],
)
def test_defaults_fill_absent_fields_of_present_objects(crds, kind, obj, path, default):
    assert at(crds[kind].admit(obj), path) == default


def test_defaults_do_not_create_absent_parents(crds):
    admitted = crds["RayService"].admit(rayservice(upgradeStrategy={"type": "NewCluster"}))
    assert admitted["spec"]["upgradeStrategy"] == {"type": "NewCluster"}


def test_required_fields_with_defaults_are_satisfied_by_the_defaults(crds):
    worker = {"groupName": "cpu", "template": {"spec": {"containers": [{"name": "worker"}]}}}
    cluster = copy.deepcopy(rayservice()["spec"]["rayClusterConfig"])
    cluster["workerGroupSpecs"] = [worker]  # minReplicas and maxReplicas are required, and defaulted
    admitted = crds["RayService"].admit(rayservice(rayClusterConfig=cluster))
    group = admitted["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    assert (group["minReplicas"], group["maxReplicas"], group["numOfHosts"]) == (0, 2147483647, 1)


def test_nulls_are_dropped_unless_the_field_is_nullable(crds):
    obj = rayservice(serveConfigV2=None)
    obj["status"] = {"activeServiceStatus": {"rayClusterStatus": {"lastUpdateTime": None}}}
    admitted = crds["RayService"].admit(obj)
    assert "serveConfigV2" not in admitted["spec"]
    assert admitted["status"]["activeServiceStatus"]["rayClusterStatus"] == {"lastUpdateTime": None}


def test_unknown_fields_are_pruned_and_named_as_warnings(crds):
    obj = rayservice(foo=1, containers=[{**HEAD, "colour": "red"}])
    obj["metadata"]["owner"] = "me"
    admitted, warnings = crds["RayService"].admit_with_warnings(obj)
    assert warnings == [
        'unknown field "metadata.owner"',
        'unknown field "spec.foo"',
        f'unknown field "{CONTAINER}[0].colour"',
    ]
    assert "foo" not in admitted["spec"] and admitted["metadata"] == {"name": "serving"}


@pytest.mark.parametrize(
    "obj, field, says",
    [
        pytest.param(
            rayservice(
                upgradeStrategy={**UPGRADE, "clusterUpgradeOptions": {**OPTIONS, "intervalSeconds": None}}
            ),
            "spec.upgradeStrategy.clusterUpgradeOptions.intervalSeconds",
            "Required value",
            id="required",
        ),
        pytest.param(
            rayservice(serviceUnhealthySecondThreshold="60"),
            "spec.serviceUnhealthySecondThreshold",
            'Invalid value: "string": spec.serviceUnhealthySecondThreshold in body must be of type integer: '
            '"string"',
            id="type",
        ),
        pytest.param(
            rayservice(rayClusterDeletionDelaySeconds=-1),
            "spec.rayClusterDeletionDelaySeconds",
            "Invalid value: -1: spec.rayClusterDeletionDelaySeconds in body should be greater than or equal "
            "to 0",
            id="minimum",
        ),
        pytest.param(
            rayservice(serviceUnhealthySecondThreshold=2**31),
            "spec.serviceUnhealthySecondThreshold",
            "Invalid value: 2147483648: spec.serviceUnhealthySecondThreshold in body must be of type int32",
            id="int32",
        ),
        pytest.param(
            rayservice(
                rayClusterConfig={**rayservice()["spec"]["rayClusterConfig"], "authOptions": {"mode": "pw"}}
            ),
            "spec.rayClusterConfig.authOptions.mode",
            'Unsupported value: "pw": supported values: "disabled", "token"',
            id="enum",
        ),
        pytest.param(
            rayservice(containers=[{**HEAD, "resources": {"limits": {"cpu": "lots"}}}]),
            f"{CONTAINER}[0].resources.limits.cpu",
            f'Invalid value: "lots": {CONTAINER}[0].resources.limits.cpu in body should match',
            id="int-or-string-pattern",
        ),
        pytest.param(
            rayservice(containers=[HEAD, HEAD]),
            f"{CONTAINER}[1]",
            'Duplicate value: {"name":"ray-head"}',
            id="list-map-key-repeated",
        ),
        pytest.param(
            {**rayservice(), "kind": "RayCluster"}, "kind", 'Invalid value: "RayCluster"', id="kind"
        ),
        pytest.param(
            {**rayservice(), "metadata": {"name": "Serving_1"}},
            "metadata.name",
            'Invalid value: "Serving_1": a lowercase RFC 1123 subdomain',
            id="name",
        ),
        pytest.param({**rayservice(), "metadata": {}}, "metadata.name", "Required value", id="no-name"),
    ],
)
def test_a_schema_violation_is_refused_naming_the_field(crds, obj, field, says):
    found = causes(crds["RayService"].admit, obj)
    assert any(cause.startswith(f"{field}: {says}") for cause in found), found


def test_int_or_string_takes_either(crds):
    crds["RayService"].admit(
        rayservice(containers=[{**HEAD, "resources": {"limits": {"cpu": 2, "memory": "4Gi"}}}])
    )


def test_invalid_lists_every_cause(crds):
    obj = rayservice(rayClusterDeletionDelaySeconds=-1, serviceUnhealthySecondThreshold="x")
    with pytest.raises(Invalid) as refused:
        crds["RayService"].admit(obj)
    assert len(refused.value.causes) >= 2
    assert all(cause in str(refused.value) for cause in refused.value.causes)


def test_a_cel_rule_refuses_a_value_it_does_not_allow(crds):
    assert causes(crds["RayJob"].admit, rayjob(managedBy="someone-else")) == [
        'spec.managedBy: Invalid value: "string": the managedBy field value must be either '
        "'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'"
    ]


def test_cel_rules_with_has_see_which_fields_are_set(crds):
    rule = {"policy": "DeleteCluster", "condition": {"jobStatus": "FAILED", "jobDeploymentStatus": "Failed"}}
    assert causes(crds["RayJob"].admit, rayjob(deletionStrategy={"deletionRules": [rule]})) == [
        'spec.deletionStrategy.deletionRules[0].condition: Invalid value: "object": JobStatus and '
        "JobDeploymentStatus cannot be used together within the same deletion condition."
    ]


def test_transition_rules_are_skipped_on_create_and_checked_on_update(crds):
    job = crds["RayJob"]
    stored = job.admit(rayjob(managedBy="ray.io/kuberay-operator"))  # create: oldSelf has no value
    assert job.admit(stored, stored)["spec"]["managedBy"] == "ray.io/kuberay-operator"
    moved = copy.deepcopy(stored)
    moved["spec"]["managedBy"] = "kueue.x-k8s.io/multikueue"
    assert causes(job.admit, moved, stored) == [
        'spec.managedBy: Invalid value: "string": the managedBy field is immutable'
    ]


def test_cel_rules_wait_until_the_schema_errors_are_fixed(crds):
    found = causes(crds["RayJob"].admit, rayjob(managedBy="someone-else", backoffLimit="x"))
    assert found[-1].startswith("<nil>: Invalid value: null: some validation rules were not checked")
    assert not any("managedBy" in cause for cause in found)


def _with_rule(rule: str) -> dict:
    size = {"type": "integer", "x-kubernetes-validations": [{"rule": rule, "message": "bad size"}]}
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": size}}}}


@pytest.mark.parametrize(
    "rule, says",
    [
        pytest.param("self >", "does not parse", id="syntax"),
        pytest.param(
            "self.isSorted()", "calls isSorted, which cel-python does not implement", id="k8s-library"
        ),
    ],
)
def test_a_rule_cel_python_cannot_run_is_refused_when_the_crd_loads(rule, says):
    with pytest.raises(RuleError, match=says):
        CustomResource("example.com", "v1", "Thing", "things", True, False, _with_rule(rule))


def test_validate_core_accepts_valid_built_in_objects():
    validate_core(configmap(mode="fast"))
    validate_core(deployment())


@pytest.mark.parametrize(
    "obj, cause",
    [
        pytest.param(
            {**configmap(), "colour": "red"},
            "Additional properties are not allowed ('colour' was unexpected)",
            id="unknown-field",
        ),
        pytest.param(
            {**deployment(), "spec": {**deployment()["spec"], "replicas": "one"}},
            'spec.replicas: Invalid value: "one"',
            id="type",
        ),
        pytest.param(
            {**configmap(), "metadata": {"name": "Settings"}},
            'metadata.name: Invalid value: "Settings"',
            id="name",
        ),
        pytest.param(
            {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "m"}},
            'kind: Unsupported value: "PodMonitor": no schema for PodMonitor',
            id="kind-without-schema",
        ),
    ],
)
def test_validate_core_refuses_with_the_cause(obj, cause):
    assert any(cause in c for c in causes(validate_core, obj)), cause
