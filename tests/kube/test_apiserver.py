"""The fake Kubernetes API server (a double, not Kubernetes), driven over real HTTP by the official
client: what it stores, what it refuses, how watches stream, and the faults it injects on demand."""

import json
import threading

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.kube.apiserver import FakeKubeApiServer
from tests.kube.manifests import GROUP, VERSION, configmap, deployment, rayjob, rayservice
from tests.kube.schema import load_crds, requires_crds

pytestmark = requires_crds
NS = "default"
RAYSERVICES = (GROUP, VERSION, NS, "rayservices")
JSON_PATCH = "application/json-patch+json"


@pytest.fixture(scope="module")
def crds():
    return load_crds()


@pytest.fixture
def server(crds):
    with FakeKubeApiServer(crds, namespaces=(NS, "staging"), history=50) as server:
        yield server


@pytest.fixture
def custom(server):
    return client.CustomObjectsApi(server.api_client())


@pytest.fixture
def core(server):
    return client.CoreV1Api(server.api_client())


def refused(call, *args, **kwargs) -> tuple[int, dict]:
    """The HTTP status and the Status body of a refused request."""
    with pytest.raises(ApiException) as error:
        call(*args, **kwargs)
    return error.value.status, json.loads(error.value.body)


def create(custom, obj: dict, namespace: str = NS, plural: str = "rayservices") -> dict:
    return custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, obj)


def get(custom, name: str = "serving") -> dict:
    return custom.get_namespaced_custom_object(*RAYSERVICES, name)


# --- create, read, replace, delete


def test_create_returns_the_stored_object_with_server_owned_metadata(custom):
    created = create(custom, rayservice())
    meta = created["metadata"]
    assert (meta["namespace"], meta["generation"]) == (NS, 1)
    assert (
        meta["uid"] and meta["creationTimestamp"].endswith("Z") and isinstance(meta["resourceVersion"], str)
    )
    assert get(custom) == created


def test_create_twice_is_already_exists(custom):
    create(custom, rayservice())
    code, body = refused(create, custom, rayservice())
    assert (code, body["reason"], body["message"]) == (
        409,
        "AlreadyExists",
        'rayservices.ray.io "serving" already exists',
    )


def test_list_has_the_list_kind_and_a_resource_version_and_filters_by_label(custom):
    for name, tier in (("a", "gold"), ("b", "gold"), ("c", "free")):
        obj = rayservice(name)
        obj["metadata"]["labels"] = {"tier": tier, "team": "ml"}
        create(custom, obj)
    listed = custom.list_namespaced_custom_object(*RAYSERVICES)
    assert listed["kind"] == "RayServiceList" and listed["metadata"]["resourceVersion"] == "3"
    assert [o["metadata"]["name"] for o in listed["items"]] == ["a", "b", "c"]
    gold = custom.list_namespaced_custom_object(*RAYSERVICES, label_selector="tier=gold,team=ml")
    assert [o["metadata"]["name"] for o in gold["items"]] == ["a", "b"]
    named = custom.list_namespaced_custom_object(*RAYSERVICES, field_selector="metadata.name=c")
    assert [o["metadata"]["name"] for o in named["items"]] == ["c"]


@pytest.mark.parametrize(
    "selector, names",
    [
        pytest.param("tier=gold", ["a"], id="equals"),
        pytest.param("tier==gold,team=ml", ["a"], id="double-equals-and"),
        pytest.param("tier!=gold", ["b", "c"], id="not-equals-includes-unlabelled"),
        pytest.param("tier in (gold, free)", ["a", "b"], id="in"),
        pytest.param("tier notin (gold)", ["b", "c"], id="notin-includes-unlabelled"),
        pytest.param("team", ["a"], id="exists"),
        pytest.param("!tier", ["c"], id="absent"),
    ],
)
def test_label_selectors_pick_what_kubernetes_picks(custom, selector, names):
    for name, labels in (("a", {"tier": "gold", "team": "ml"}), ("b", {"tier": "free"}), ("c", {})):
        obj = rayservice(name)
        obj["metadata"]["labels"] = labels
        create(custom, obj)
    picked = custom.list_namespaced_custom_object(*RAYSERVICES, label_selector=selector)
    assert [o["metadata"]["name"] for o in picked["items"]] == names


def test_a_list_pages_with_limit_and_continue(custom):
    for name in "abc":
        create(custom, rayservice(name))
    first = custom.list_namespaced_custom_object(*RAYSERVICES, limit=2)
    assert [o["metadata"]["name"] for o in first["items"]] == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 1
    rest = custom.list_namespaced_custom_object(
        *RAYSERVICES, limit=2, _continue=first["metadata"]["continue"]
    )
    assert [o["metadata"]["name"] for o in rest["items"]] == ["c"] and "continue" not in rest["metadata"]


def test_the_cluster_wide_list_spans_namespaces(custom):
    create(custom, rayservice("a"))
    create(custom, rayservice("b"), namespace="staging")
    listed = custom.list_cluster_custom_object(GROUP, VERSION, "rayservices")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in listed["items"]] == [
        ("default", "a"),
        ("staging", "b"),
    ]


def test_replace_and_delete(custom):
    obj = create(custom, rayservice())
    obj["spec"]["serveConfigV2"] = "applications: []"
    replaced = custom.replace_namespaced_custom_object(*RAYSERVICES, "serving", obj)
    assert replaced["spec"]["serveConfigV2"] == "applications: []"
    deleted = custom.delete_namespaced_custom_object(*RAYSERVICES, "serving")
    assert deleted["metadata"]["uid"] == obj["metadata"]["uid"]
    code, body = refused(get, custom)
    assert (code, body["reason"], body["message"]) == (
        404,
        "NotFound",
        'rayservices.ray.io "serving" not found',
    )
    assert refused(custom.delete_namespaced_custom_object, *RAYSERVICES, "serving")[0] == 404


def test_generate_name_gets_a_random_suffix(custom):
    created = create(custom, {**rayservice(), "metadata": {"generateName": "serving-"}})
    assert created["metadata"]["name"].startswith("serving-") and len(created["metadata"]["name"]) == 13


# --- patches


def test_a_merge_patch_is_what_a_dict_body_sends(custom, server):
    create(custom, rayservice())
    patched = custom.patch_namespaced_custom_object(
        *RAYSERVICES, "serving", {"spec": {"serveConfigV2": "x: 1"}}
    )
    assert patched["spec"]["serveConfigV2"] == "x: 1" and "rayClusterConfig" in patched["spec"]
    assert server.requests[-1] == (
        "PATCH",
        f"/apis/ray.io/v1/namespaces/{NS}/rayservices/serving",
        "application/merge-patch+json",
    )


def test_a_json_patch_needs_a_list_body_and_the_content_type(custom, server):
    rv = create(custom, rayservice())["metadata"]["resourceVersion"]
    operations = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/spec/serveConfigV2", "value": "x: 1"},
    ]
    patched = custom.patch_namespaced_custom_object(
        *RAYSERVICES, "serving", operations, _content_type=JSON_PATCH
    )
    assert patched["spec"]["serveConfigV2"] == "x: 1"
    assert server.requests[-1][2] == JSON_PATCH


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param({"op": "test", "path": "/metadata/resourceVersion", "value": "0"}, id="failing-test"),
        pytest.param(
            {"op": "replace", "path": "/spec/serveConfigV2", "value": "x"}, id="replace-missing-path"
        ),
    ],
)
def test_a_json_patch_that_does_not_apply_is_invalid(custom, operation):
    create(custom, rayservice())
    code, body = refused(
        custom.patch_namespaced_custom_object, *RAYSERVICES, "serving", [operation], _content_type=JSON_PATCH
    )
    assert (code, body["reason"]) == (422, "Invalid") and body["details"]["causes"][0]["message"]


def test_a_strategic_merge_patch_of_a_custom_object_is_an_unsupported_media_type(custom):
    create(custom, rayservice())
    code, body = refused(
        custom.patch_namespaced_custom_object,
        *RAYSERVICES,
        "serving",
        {"spec": {}},
        _content_type="application/strategic-merge-patch+json",
    )
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")


def test_the_client_patches_built_in_kinds_by_strategic_merge_which_this_double_does_not_implement(
    core, server
):
    core.create_namespaced_config_map(NS, configmap(mode="fast"))
    code, body = refused(core.patch_namespaced_config_map, "settings", NS, {"data": {"mode": "slow"}})
    assert (code, body["reason"]) == (501, "NotImplemented")
    assert server.requests[-1][2] == "application/strategic-merge-patch+json"
    merged = core.patch_namespaced_config_map(
        "settings", NS, {"data": {"mode": "slow"}}, _content_type="application/merge-patch+json"
    )
    assert merged.data == {"mode": "slow"}


def test_server_side_apply_is_not_implemented(custom):
    create(custom, rayservice())
    code, _ = refused(
        custom.patch_namespaced_custom_object,
        *RAYSERVICES,
        "serving",
        rayservice(),
        _content_type="application/apply-patch+yaml",
        field_manager="test",
    )
    assert code == 501


# --- optimistic concurrency


def test_a_put_with_a_stale_resource_version_conflicts(custom):
    stale = create(custom, rayservice())
    custom.patch_namespaced_custom_object(*RAYSERVICES, "serving", {"spec": {"serveConfigV2": "x: 1"}})
    code, body = refused(custom.replace_namespaced_custom_object, *RAYSERVICES, "serving", stale)
    assert (code, body["reason"]) == (409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on rayservices.ray.io "serving": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_a_put_without_a_resource_version_is_unconditional(custom):
    create(custom, rayservice())
    custom.patch_namespaced_custom_object(*RAYSERVICES, "serving", {"spec": {"serveConfigV2": "x: 1"}})
    obj = rayservice(serveConfigV2="x: 2")
    assert (
        custom.replace_namespaced_custom_object(*RAYSERVICES, "serving", obj)["spec"]["serveConfigV2"]
        == "x: 2"
    )


def test_a_json_patch_that_sets_a_stale_resource_version_conflicts(custom):
    stale = create(custom, rayservice())["metadata"]["resourceVersion"]
    custom.patch_namespaced_custom_object(*RAYSERVICES, "serving", {"spec": {"serveConfigV2": "x: 1"}})
    operations = [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": stale},
        {"op": "replace", "path": "/spec/serveConfigV2", "value": "x: 2"},
    ]
    code, _ = refused(
        custom.patch_namespaced_custom_object, *RAYSERVICES, "serving", operations, _content_type=JSON_PATCH
    )
    assert code == 409 and get(custom)["spec"]["serveConfigV2"] == "x: 1"


# --- generation and the status subresource


def test_generation_counts_spec_changes_only(custom):
    obj = create(custom, rayservice())
    obj["metadata"]["labels"] = {"team": "ml"}
    obj = custom.replace_namespaced_custom_object(*RAYSERVICES, "serving", obj)
    assert obj["metadata"]["generation"] == 1
    obj["status"] = {"serviceStatus": "Running"}
    obj = custom.replace_namespaced_custom_object_status(*RAYSERVICES, "serving", obj)
    assert obj["metadata"]["generation"] == 1
    obj["spec"]["serveConfigV2"] = "x: 1"
    assert (
        custom.replace_namespaced_custom_object(*RAYSERVICES, "serving", obj)["metadata"]["generation"] == 2
    )


def test_a_write_that_changes_nothing_keeps_the_resource_version(custom):
    obj = create(custom, rayservice())
    assert custom.replace_namespaced_custom_object(*RAYSERVICES, "serving", obj) == obj


def test_status_is_written_through_the_status_subresource_only(custom):
    obj = rayservice()
    obj["status"] = {"serviceStatus": "Running"}
    created = create(custom, obj)
    assert "status" not in created  # dropped on create
    created["status"] = {"serviceStatus": "Running"}
    assert "status" not in custom.replace_namespaced_custom_object(*RAYSERVICES, "serving", created)
    current = get(custom)
    current["status"] = {"serviceStatus": "Running"}
    current["spec"]["serveConfigV2"] = "ignored: true"
    current["metadata"]["labels"] = {"ignored": "true"}
    written = custom.replace_namespaced_custom_object_status(*RAYSERVICES, "serving", current)
    assert written["status"] == {"serviceStatus": "Running"}
    assert "serveConfigV2" not in written["spec"] and "labels" not in written["metadata"]
    patched = custom.patch_namespaced_custom_object_status(
        *RAYSERVICES, "serving", {"status": {"numServeEndpoints": 2}}
    )
    assert patched["status"] == {"serviceStatus": "Running", "numServeEndpoints": 2}


# --- admission


def test_defaults_of_the_crd_are_stored(custom):
    upgrade = {
        "type": "NewClusterWithIncrementalUpgrade",
        "clusterUpgradeOptions": {"gatewayClassName": "istio", "stepSizePercent": 10, "intervalSeconds": 30},
    }
    created = create(custom, rayservice(upgradeStrategy=upgrade))
    assert created["spec"]["upgradeStrategy"]["clusterUpgradeOptions"]["maxSurgePercent"] == 100


def test_a_schema_violation_is_invalid_with_the_field_in_the_causes(custom):
    upgrade = {
        "type": "NewClusterWithIncrementalUpgrade",
        "clusterUpgradeOptions": {"gatewayClassName": "istio", "stepSizePercent": 10},
    }
    code, body = refused(create, custom, rayservice(upgradeStrategy=upgrade))
    assert (code, body["reason"], body["details"]["kind"]) == (422, "Invalid", "RayService")
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.upgradeStrategy.clusterUpgradeOptions.intervalSeconds",
    } in body["details"]["causes"]
    assert body["message"].startswith(
        'RayService.ray.io "serving" is invalid: [spec.upgradeStrategy.clusterUpgrade'
    )


def test_a_cel_rule_violation_is_invalid(custom):
    code, body = refused(create, custom, rayjob(managedBy="someone-else"), plural="rayjobs")
    assert code == 422 and "the managedBy field value must be either" in body["message"]


def test_an_immutable_field_cannot_change_on_update(custom):
    job = create(custom, rayjob(managedBy="ray.io/kuberay-operator"), plural="rayjobs")
    job["spec"]["managedBy"] = "kueue.x-k8s.io/multikueue"
    code, body = refused(custom.replace_namespaced_custom_object, GROUP, VERSION, NS, "rayjobs", "train", job)
    assert code == 422 and body["details"]["causes"][0]["message"].endswith(
        "the managedBy field is immutable"
    )


def test_unknown_fields_are_pruned_with_a_warning_header(custom):
    _, code, headers = custom.create_namespaced_custom_object_with_http_info(
        *RAYSERVICES, rayservice(colour="red")
    )
    assert code == 201 and headers["Warning"] == '299 - "unknown field \\"spec.colour\\""'
    assert "colour" not in get(custom)["spec"]


def test_strict_field_validation_refuses_unknown_fields(custom):
    code, body = refused(
        custom.create_namespaced_custom_object,
        *RAYSERVICES,
        rayservice(colour="red"),
        field_validation="Strict",
    )
    assert (code, body["message"]) == (400, 'strict decoding error: unknown field "spec.colour"')


def test_the_body_must_name_the_namespace_and_object_of_the_url(custom):
    create(custom, rayservice())
    assert refused(create, custom, rayservice("x", namespace="staging"))[0] == 400
    assert (
        refused(custom.replace_namespaced_custom_object, *RAYSERVICES, "serving", rayservice("other"))[0]
        == 400
    )


def test_a_resource_version_on_create_is_refused_as_the_real_server_does(custom):
    obj = rayservice()
    obj["metadata"]["resourceVersion"] = "7"
    code, body = refused(create, custom, obj)
    assert code == 500 and body["message"] == "resourceVersion should not be set on objects to be created"


def test_finalizers_hold_a_deletion_until_they_are_removed(custom):
    obj = rayservice()
    obj["metadata"]["finalizers"] = ["ray.io/finalizer"]
    create(custom, obj)
    marked = custom.delete_namespaced_custom_object(*RAYSERVICES, "serving")
    assert marked["metadata"]["deletionTimestamp"] and get(custom)["metadata"]["finalizers"] == [
        "ray.io/finalizer"
    ]
    custom.patch_namespaced_custom_object(*RAYSERVICES, "serving", {"metadata": {"finalizers": None}})
    assert refused(get, custom)[0] == 404


# --- built-in kinds


def test_built_in_kinds_are_served_and_validated(server):
    api = server.api_client()
    apps, rbac, core = client.AppsV1Api(api), client.RbacAuthorizationV1Api(api), client.CoreV1Api(api)
    created = apps.create_namespaced_deployment(NS, deployment())
    assert created.metadata.generation == 1 and created.spec.replicas == 1
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "editor"},
        "rules": [{"apiGroups": ["ray.io"], "resources": ["rayservices"], "verbs": ["get", "patch"]}],
    }
    rbac.create_namespaced_role(NS, role)
    core.create_namespaced_service_account(
        NS, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}
    )
    core.create_namespaced_service(
        NS,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="serve"),
            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=8000)]),
        ),
    )
    assert [r.metadata.name for r in rbac.list_namespaced_role(NS).items] == ["editor"]
    # Typed methods check dict bodies client-side (pydantic); the generic path reaches the server.
    custom = client.CustomObjectsApi(api)
    code, body = refused(
        custom.create_namespaced_custom_object,
        "apps",
        "v1",
        NS,
        "deployments",
        {**deployment("other"), "colour": "red"},
    )
    assert (code, body["reason"]) == (422, "Invalid") and "colour" in body["message"]


def test_a_deployment_selector_is_immutable(server):
    apps = client.AppsV1Api(server.api_client())
    apps.create_namespaced_deployment(NS, deployment())
    changed = deployment()
    changed["spec"]["selector"]["matchLabels"]["tier"] = "x"
    changed["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    code, body = refused(apps.replace_namespaced_deployment, "controller", NS, changed)
    assert code == 422 and "spec.selector" in body["message"]


# --- refusals


def test_a_request_without_the_token_is_unauthorized(server):
    configuration = client.Configuration(host=server.url)
    code, body = refused(
        client.CustomObjectsApi(client.ApiClient(configuration)).list_namespaced_custom_object, *RAYSERVICES
    )
    assert (code, body["reason"]) == (401, "Unauthorized")


def test_a_resource_the_cluster_lacks_is_not_found(custom):
    code, body = refused(
        custom.create_namespaced_custom_object,
        "monitoring.coreos.com",
        "v1",
        NS,
        "podmonitors",
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "m"}},
    )
    assert (code, body["kind"], body["reason"]) == (404, "Status", "NotFound")


def test_creating_in_a_namespace_that_does_not_exist_is_not_found(custom):
    code, body = refused(create, custom, rayservice(), namespace="nowhere")
    assert (code, body["message"]) == (404, 'namespaces "nowhere" not found')


def test_a_query_parameter_the_double_does_not_implement_is_refused_by_name(custom):
    code, body = refused(
        custom.list_namespaced_custom_object,
        *RAYSERVICES,
        resource_version_match="Exact",
        resource_version="1",
    )
    assert code == 501 and "resourceVersionMatch" in body["message"]
    code, body = refused(
        custom.list_namespaced_custom_object, *RAYSERVICES, field_selector="spec.suspend=true"
    )
    assert (code, body["message"]) == (400, "field label not supported: spec.suspend")


# --- watch


def events(stream, count: int) -> list[tuple[str, str]]:
    """The first `count` events of a watch stream, as (type, name)."""
    seen = []
    for event in stream:
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if len(seen) == count:
            break
    return seen


def test_a_watch_lists_existing_objects_then_streams_changes_in_order(custom):
    create(custom, rayservice("a"))
    create(custom, rayservice("b"))
    stream = watch.Watch().stream(custom.list_namespaced_custom_object, *RAYSERVICES, timeout_seconds=5)
    assert events(stream, 2) == [("ADDED", "a"), ("ADDED", "b")]
    custom.patch_namespaced_custom_object(*RAYSERVICES, "a", {"spec": {"serveConfigV2": "x: 1"}})
    custom.delete_namespaced_custom_object(*RAYSERVICES, "b")
    create(custom, rayservice("c"))
    assert events(stream, 3) == [("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "c")]


def test_a_watch_from_a_resource_version_sends_only_later_events(custom):
    create(custom, rayservice("a"))
    since = custom.list_namespaced_custom_object(*RAYSERVICES)["metadata"]["resourceVersion"]
    create(custom, rayservice("b"))
    stream = watch.Watch().stream(
        custom.list_namespaced_custom_object, *RAYSERVICES, resource_version=since, timeout_seconds=5
    )
    assert events(stream, 1) == [("ADDED", "b")]


def test_a_labelled_watch_sees_objects_leave_and_enter_its_selection(custom):
    obj = rayservice("a")
    obj["metadata"]["labels"] = {"tier": "gold"}
    create(custom, obj)
    stream = watch.Watch().stream(
        custom.list_namespaced_custom_object, *RAYSERVICES, label_selector="tier=gold", timeout_seconds=5
    )
    assert events(stream, 1) == [("ADDED", "a")]
    custom.patch_namespaced_custom_object(*RAYSERVICES, "a", {"metadata": {"labels": {"tier": "free"}}})
    custom.patch_namespaced_custom_object(*RAYSERVICES, "a", {"metadata": {"labels": {"tier": "gold"}}})
    assert events(stream, 2) == [("DELETED", "a"), ("ADDED", "a")]


def test_a_resource_version_older_than_the_history_is_expired(crds):
    with FakeKubeApiServer(crds, history=2) as server:
        core = client.CoreV1Api(server.api_client())
        for name in "abcd":
            core.create_namespaced_config_map(NS, configmap(name))
        # The client retries a 410 once by itself, then raises it.
        with pytest.raises(ApiException) as expired:
            next(iter(watch.Watch().stream(core.list_namespaced_config_map, NS, resource_version="1")))
    assert expired.value.status == 410 and "too old resource version: 1" in expired.value.reason


def test_stop_ends_open_watches(crds):
    server = FakeKubeApiServer(crds).start()
    custom = client.CustomObjectsApi(server.api_client())
    create(custom, rayservice())
    watching, ended = threading.Event(), threading.Event()

    def follow() -> None:
        for _ in watch.Watch().stream(custom.list_namespaced_custom_object, *RAYSERVICES, timeout_seconds=30):
            watching.set()
        ended.set()  # the stream ended cleanly: no exception

    threading.Thread(target=follow, daemon=True).start()
    assert watching.wait(5)
    server.stop()
    assert ended.wait(5)


# --- faults


def test_forced_conflicts_answer_409_then_writes_succeed(custom, server):
    create(custom, rayservice())
    server.faults.conflicts(2, plural="rayservices")
    for _ in range(2):
        assert refused(custom.patch_namespaced_custom_object, *RAYSERVICES, "serving", {"spec": {}})[0] == 409
    custom.patch_namespaced_custom_object(*RAYSERVICES, "serving", {"spec": {"serveConfigV2": "x: 1"}})


def test_forced_conflicts_spare_other_resources(core, server):
    server.faults.conflicts(1, plural="rayservices")
    core.create_namespaced_config_map(NS, configmap())
    assert core.replace_namespaced_config_map("settings", NS, configmap(mode="x")).data == {"mode": "x"}


def test_forced_errors_answer_the_status_asked_for(custom, server):
    server.faults.errors(1, status=503)
    code, body = refused(custom.list_namespaced_custom_object, *RAYSERVICES)
    assert (code, body["reason"]) == (503, "ServiceUnavailable")
    assert custom.list_namespaced_custom_object(*RAYSERVICES)["items"] == []


def test_a_dropped_watch_breaks_the_stream_after_its_first_event(custom, server):
    create(custom, rayservice("a"))
    create(custom, rayservice("b"))
    server.faults.drop_watches(1)
    stream = watch.Watch().stream(custom.list_namespaced_custom_object, *RAYSERVICES, timeout_seconds=5)
    assert next(stream)["object"]["metadata"]["name"] == "a"
    with pytest.raises(urllib3.exceptions.ProtocolError):
        next(stream)


# --- connecting


def test_the_kubeconfig_points_the_client_at_the_server(server, tmp_path):
    api = config.new_client_from_config(config_file=str(server.write_kubeconfig(tmp_path / "kubeconfig")))
    assert client.CustomObjectsApi(api).list_namespaced_custom_object(*RAYSERVICES)["items"] == []
    assert server.requests[-1] == ("GET", f"/apis/ray.io/v1/namespaces/{NS}/rayservices", "")
