"""The kustomize base in kuberay/: every object passes the admission the API server would give it
(KubeRay's real CRDs, Kubernetes' schemas), the Serve config agrees with the desired state it carries,
least privilege and non-root hold, and the dashboard reads only metrics the project exports."""

import ast
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from controller.kuberay import manifests
from controller.kuberay.status import ANNOTATION
from controller.settings import ControllerSettings
from models.errors import InvalidSpec
from runtime.desired import DesiredState
from runtime.series import ANOMALIES, EXPORTED, LATENCY, REQUESTS, ROWS
from runtime.serveconfig import render, validate
from tests.kube.schema import Invalid, load_crds, requires_crds, validate_core

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "kuberay"
KUSTOMIZE_BUILD = Path(__file__).with_name("kustomize-build.yaml")
"""`kubectl kustomize kuberay/` as kubectl v1.32.4 (kustomize v5.5.0) built it; regenerated, never edited."""
VARIANTS = {
    "base": {},
    "image-and-namespace": {"image": "ghcr.io/acme/raynomaly:1.2.3", "namespace": "serving",
                            "gpu_image": "ghcr.io/acme/raynomaly-gpu@sha256:" + "ab" * 32},
}  # fmt: skip


@pytest.fixture(scope="module")
def crds():
    return load_crds()


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    return next(o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"]))


def pod_specs(obj: dict) -> list[dict]:
    """Every pod template's spec of a Deployment, RayService or RayJob."""
    if obj["kind"] == "Deployment":
        return [obj["spec"]["template"]["spec"]]
    cluster = obj["spec"].get("rayClusterConfig") or obj["spec"].get("rayClusterSpec")
    groups = [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]
    return [g["template"]["spec"] for g in groups]


def check_pod_monitor(obj: dict) -> None:
    """No schema offline: the shape the Prometheus operator needs, by hand."""
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert obj["spec"]["selector"]["matchLabels"]
    for endpoint in obj["spec"]["podMetricsEndpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "relabelings", "authorization"}
        assert isinstance(endpoint["port"], str) and endpoint["path"] == "/metrics"
        for relabel in endpoint.get("relabelings", []):
            assert relabel["sourceLabels"] and relabel["targetLabel"]


def check_prometheus_rule(obj: dict) -> None:
    """No schema offline: the shape the Prometheus operator needs, by hand (tests/alerts checks the
    rules themselves with promtool)."""
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(obj["spec"]) == {"groups"}
    for group in obj["spec"]["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"record", "alert", "expr", "for", "labels", "annotations"}
            assert ("record" in rule) != ("alert" in rule) and isinstance(rule["expr"], str)


@requires_crds
@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_every_object_is_admitted(crds, variant):
    for obj in manifests.render(**VARIANTS[variant]):
        if obj["kind"] in crds:
            warnings = crds[obj["kind"]].admit_with_warnings(obj)[1]
            assert warnings == [], f"{obj['kind']} has fields its CRD does not know: {warnings}"
        elif obj["kind"] == "PodMonitor":
            check_pod_monitor(obj)
        elif obj["kind"] == "PrometheusRule":
            check_prometheus_rule(obj)
        else:
            validate_core(obj)


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_image_and_namespace_apply_to_every_object(variant):
    options = VARIANTS[variant]
    objects = manifests.render(**options)
    namespace = options.get("namespace", "raynomaly")
    assert {o["metadata"]["namespace"] for o in objects} == {namespace}
    subjects = one(objects, "RoleBinding")["subjects"]
    assert [s["namespace"] for s in subjects] == [namespace]
    images = set(re.findall(r"\bimage: (\S+)", manifests.to_yaml(objects)))
    assert images == {
        options.get("image", "raynomaly:0.1.0"),
        options.get("gpu_image", "raynomaly-gpu:0.1.0"),
    }
    assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "raynomaly" for o in objects)


def test_the_stream_parses_back_to_the_objects():
    objects = manifests.render()
    assert list(yaml.safe_load_all(manifests.to_yaml(objects))) == objects
    assert "serveConfigV2: |" in manifests.to_yaml(objects)


def test_the_packaged_base_is_the_repositorys_kuberay_folder():
    assert Path(str(manifests.BASE)).resolve() == BASE.resolve()  # controller/kuberay/base links to it


def test_render_equals_kustomize_build():
    """Against kustomize's own build of the base, recorded in KUSTOMIZE_BUILD (Debian has no kubectl
    whose kustomize reads this base), and checked against a fresh build wherever kubectl is on PATH."""
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    recorded = sorted(yaml.safe_load_all(KUSTOMIZE_BUILD.read_text()), key=key)
    if shutil.which("kubectl") is not None:
        build = ["kubectl", "kustomize", str(BASE)]
        built = subprocess.run(build, capture_output=True, text=True, check=True).stdout
        assert sorted(yaml.safe_load_all(built), key=key) == recorded, (
            f"kuberay/ changed: regenerate the recording (kubectl kustomize kuberay/ > {KUSTOMIZE_BUILD})"
        )
    assert sorted(manifests.render(), key=key) == recorded


def test_every_serve_config_is_valid_and_agrees_with_its_desired_state():
    configs = [o for o in manifests.render() if "serveConfigV2" in o.get("spec", {})]
    assert [o["kind"] for o in configs] == ["RayService"]
    for obj in configs:
        desired = DesiredState.model_validate_json(obj["metadata"]["annotations"][ANNOTATION])
        config = yaml.safe_load(obj["spec"]["serveConfigV2"])
        validate(config)
        expected = yaml.safe_dump(render(desired), sort_keys=False)
        assert config == render(desired), f"regenerate serveConfigV2 in kuberay/rayservice.yaml:\n{expected}"
        assert desired.versions == [] and desired.store == "/models"
        assert (desired.endpoints.host, desired.endpoints.http_port, desired.endpoints.grpc_port) == (
            "0.0.0.0", 8000, 9000,
        )  # fmt: skip


def test_serving_cluster():
    rayservice = one(manifests.render(), "RayService")
    spec, cluster = rayservice["spec"], rayservice["spec"]["rayClusterConfig"]
    desired = DesiredState.model_validate_json(rayservice["metadata"]["annotations"][ANNOTATION])
    controller_secret = "raynomaly-controller-secret"
    assert spec["upgradeStrategy"] == {"type": "NewCluster"}
    assert (
        cluster["enableInTreeAutoscaling"] is True and cluster["autoscalerOptions"]["idleTimeoutSeconds"] > 0
    )
    assert cluster["authOptions"] == {"mode": "token"}
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"] == {
        "dashboard-host": "0.0.0.0",
        "metrics-export-port": "8080",
        "num-cpus": "0",
    }
    ports = {p["name"]: p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
    assert ports | {"metrics": 8080, "dashboard": 8265} == ports
    assert (ports["serve"], ports["grpc"]) == (desired.endpoints.http_port, desired.endpoints.grpc_port)
    assert {p["port"] for p in spec["serveService"]["spec"]["ports"]} == {ports["serve"], ports["grpc"]}
    workers = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    assert (
        workers["cpu"]["minReplicas"] >= 1 and workers["cpu"]["maxReplicas"] > workers["cpu"]["minReplicas"]
    )
    gpu = workers["gpu"]
    assert (gpu["replicas"], gpu["minReplicas"]) == (0, 0) and gpu["maxReplicas"] >= 1
    gpu_pod = gpu["template"]["spec"]
    assert gpu_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {t["key"] for t in gpu_pod["tolerations"]} == {"nvidia.com/gpu"}
    for pod in pod_specs(rayservice):
        container = pod["containers"][0]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[desired.store]["readOnly"] is True
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert (
            volumes[mounts[desired.store]["name"]]["persistentVolumeClaim"]["claimName"] == "raynomaly-models"
        )
        # the gateway verifies inference keys with the controller's signing key, mounted from its Secret
        folder, name = desired.gateway.access.secret_file.rsplit("/", 1)
        secret = volumes[mounts[folder]["name"]]["secret"]
        assert mounts[folder]["readOnly"] is True and secret["secretName"] == controller_secret
        assert secret["items"] == [{"key": "jwt-secret", "path": name}]


def test_the_controller_deployment_matches_the_controller_settings():
    objects = manifests.render()
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["serviceAccountName"] == one(objects, "ServiceAccount")["metadata"]["name"]
    assert container["command"] == ["raynomaly"] and container["args"][:2] == ["controller", "run"]
    assert "--prometheus-url" in container["args"]
    environ = {e["name"]: e["value"] for e in container["env"]}
    settings = ControllerSettings.resolve(environ)
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts[str(settings.runtime.state_dir)]["name"]]
    secret = volumes[mounts[str(settings.secret_path)]["name"]]["secret"]
    assert (
        secret["secretName"] == "raynomaly-controller-secret"
        and mounts[str(settings.secret_path)]["readOnly"]
    )
    assert settings.runtime.store in mounts and mounts[settings.runtime.store]["readOnly"] is True
    port = next(p for p in container["ports"] if p["name"] == "http")["containerPort"]
    assert port == settings.port == 8600
    probes = {k: container[k]["httpGet"] for k in ("livenessProbe", "readinessProbe", "startupProbe")}
    assert {p["port"] for p in probes.values()} == {"http"}
    assert (probes["livenessProbe"]["path"], probes["readinessProbe"]["path"]) == ("/health", "/ready")
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    service = one(objects, "Service")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8600, "http")]


def test_the_controller_arguments_are_accepted_by_controller_run():
    import typer

    from controller.cli import app

    container = one(manifests.render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    run = typer.main.get_command(app).commands["controller"].commands["run"]
    assert container["args"][:2] == ["controller", "run"]
    run.make_context("run", container["args"][2:])  # raises on an option `controller run` lacks


def test_batch_entrypoints_are_accepted_by_batch_score():
    import typer

    from controller.cli import app

    root = typer.main.get_command(app)
    score = root.commands["batch"].commands["score"]
    template = manifests.batch_template()
    job = manifests.batch_job(
        template, "score", "fraud:3", "in.parquet", "out", options=["--concurrency", "4"]
    )
    for entrypoint in (template["spec"]["entrypoint"], job["spec"]["entrypoint"]):
        command = shlex.split(entrypoint)
        assert command[:3] == ["raynomaly", "batch", "score"]
        score.make_context("score", command[3:])  # raises on an option `batch score` lacks


def test_the_role_grants_only_what_the_controller_uses():
    objects = manifests.render()
    assert not {o["kind"] for o in objects} & {"ClusterRole", "ClusterRoleBinding", "Secret"}
    (role,) = by_kind(objects, "Role")
    granted = {
        (g, r): sorted(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert granted == {
        ("ray.io", "rayservices"): sorted(["get", "list", "watch", "patch", "update"]),
        ("ray.io", "rayservices/status"): ["get"],
        ("ray.io", "rayjobs"): sorted(["create", "get", "list", "watch", "delete"]),
        ("ray.io", "rayjobs/status"): ["get"],
    }
    binding = one(objects, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "raynomaly-controller",
    }


def test_every_pod_that_reads_the_store_reads_its_keys_from_the_keys_secret():
    """Versions are verified with the keyring: every pod mounting the store mounts the Secret
    raynomaly-keys (optional, read-only) where its RAYNOMALY_KEYS_DIR points, by path only."""
    objects = manifests.render()
    workloads = [o for o in objects if o["kind"] in ("Deployment", "RayService", "RayJob")]
    checked = 0
    for obj in workloads:
        for pod in pod_specs(obj):
            container = pod["containers"][0]
            mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
            if "/models" not in mounts:
                continue
            environ = {e["name"]: e.get("value") for e in container["env"]}
            keys = mounts[environ["RAYNOMALY_KEYS_DIR"]]
            volume = next(v for v in pod["volumes"] if v["name"] == keys["name"])
            assert keys["readOnly"] is True
            assert volume["secret"]["secretName"] == "raynomaly-keys" and volume["secret"]["optional"] is True
            checked += 1
    assert checked == 6  # serving head, CPU and GPU workers; batch head and worker; the controller


def test_every_container_runs_as_non_root():
    objects = manifests.render()
    workloads = [o for o in objects if o["kind"] in ("Deployment", "RayService", "RayJob")]
    assert len(workloads) == 3
    for obj in workloads:
        for pod in pod_specs(obj):
            assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
            for container in pod["containers"]:
                assert container["securityContext"]["allowPrivilegeEscalation"] is False
                assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    autoscaler = one(objects, "RayService")["spec"]["rayClusterConfig"]["autoscalerOptions"]
    assert autoscaler["securityContext"]["runAsNonRoot"] is True


def test_no_secret_values_in_the_repository():
    secretish = re.compile(
        r"eyJ[\w-]{10,}\.|\b[0-9a-f]{32,}\b|BEGIN [A-Z ]*PRIVATE KEY|password\s*[:=]", re.I
    )
    for path in [*(p for p in BASE.rglob("*") if p.is_file()), ROOT / ".dockerignore"]:
        assert not secretish.search(path.read_text()), f"{path} holds what looks like a secret value"
    for obj in manifests.render():
        assert obj["kind"] != "Secret"
    monitor = one(manifests.render(), "PodMonitor", "raynomaly-controller")
    credentials = monitor["spec"]["podMetricsEndpoints"][0]["authorization"]["credentials"]
    assert set(credentials) == {"name", "key"}


def test_pod_monitors_select_the_pods_and_ports_they_scrape():
    objects = manifests.render()
    ray, controller = (
        one(objects, "PodMonitor", "raynomaly-ray"),
        one(objects, "PodMonitor", "raynomaly-controller"),
    )
    kuberay_labels = {"ray.io/is-ray-node": "yes"}  # KubeRay adds it to every Ray pod
    groups = [one(objects, "RayService")["spec"]["rayClusterConfig"]["headGroupSpec"]]
    groups += one(objects, "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    for group in groups:
        labels = group["template"]["metadata"]["labels"] | kuberay_labels
        assert ray["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert "metrics" in {p["name"] for p in group["template"]["spec"]["containers"][0]["ports"]}
    batch = one(objects, "RayJob")["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["metadata"][
        "labels"
    ]
    assert not ray["spec"]["selector"]["matchLabels"].items() <= (batch | kuberay_labels).items()
    template = one(objects, "Deployment")["spec"]["template"]
    assert controller["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert controller["spec"]["podMetricsEndpoints"][0]["port"] in {
        p["name"] for p in template["spec"]["containers"][0]["ports"]
    }


def exported_metrics() -> set[str]:
    """Every series name the project exports: the runtime's contract (`runtime.series`), and the
    metrics named in code (the controller's, Ray Serve's own); Ray metrics get Ray's `ray_` prefix;
    counters add `_total`, histograms `_bucket`, `_sum`, `_count`."""
    suffixes = {"Counter": ["_total"], "Histogram": ["_bucket", "_sum", "_count"], "Gauge": [""],
                "GaugeMetricFamily": [""], "CounterMetricFamily": ["_total"]}  # fmt: skip
    names = {sample for series in EXPORTED for sample in series.samples}
    for path in [*(ROOT / "runtime").rglob("*.py"), *(ROOT / "controller").rglob("*.py")]:
        source = path.read_text()
        prefix = "ray_" if re.search(r"from ray\.(serve|util)\.metrics import", source) else ""
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                kind = getattr(node.func, "id", getattr(node.func, "attr", None))
                names |= {prefix + node.args[0].value + s for s in suffixes.get(kind, [])}
    import ray.serve

    for path in Path(ray.serve.__file__).parent.rglob("*.py"):
        for kind, name in re.findall(
            r"metrics\.(Counter|Histogram|Gauge)\(\s*(?:name=)?f?\"(serve_[\w{}]+)\"", path.read_text()
        ):
            for protocol in ("http", "grpc"):  # the ingress metrics, named per protocol
                names |= {f"ray_{name.replace('{protocol_name}', protocol)}{s}" for s in suffixes[kind]}
    return names


def test_the_dashboard_reads_only_exported_metrics():
    text = (BASE / "grafana-dashboard.json").read_text()
    dashboard = json.loads(text)
    panels = [p for row in dashboard["panels"] for p in [row, *row.get("panels", [])] if p["type"] != "row"]
    queries = [t["expr"] for p in panels for t in p["targets"]]
    queries += [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    used = {name for q in queries for name in re.findall(r"\b(?:ray|raynomaly)_[a-z0-9_]+\b", q)}
    exported = exported_metrics()
    assert used - exported == set()
    for needed in (REQUESTS.sample, LATENCY.sample, ROWS.sample, ANOMALIES.sample,
                   "raynomaly_rollout_weight_percent", "raynomaly_analysis_value",
                   "raynomaly_analysis_threshold", "raynomaly_rollout_phase"):  # fmt: skip
        assert needed in used
    assert {p["datasource"]["uid"] for p in panels} == {"${datasource}"}
    assert any(
        v["type"] == "datasource" and v["name"] == "datasource" for v in dashboard["templating"]["list"]
    )
    configmap = one(manifests.render(), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"] == {"grafana-dashboard.json": text}


@pytest.mark.parametrize(
    "kustomization, refused",
    [
        pytest.param({"patches": [{"path": "x.yaml"}]}, "patches", id="patches"),
        pytest.param({"labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]}, "includeSelectors",
                     id="labels-include-selectors"),
        pytest.param({"configMapGenerator": [{"name": "x", "literals": ["a=b"],
                                              "options": {"disableNameSuffixHash": True}}]}, "literals",
                     id="generator-literals"),
        pytest.param({"configMapGenerator": [{"name": "x", "files": []}]}, "disableNameSuffixHash",
                     id="generator-name-hash"),
    ],
)  # fmt: skip
def test_unsupported_kustomization_fields_are_refused(kustomization, refused):
    with pytest.raises(manifests.ManifestError, match=f"{refused}.*kustomize"):
        manifests.build(kustomization, [], {})


def test_a_kind_raynomaly_does_not_manage_is_refused():
    with pytest.raises(manifests.ManifestError, match="holds a Secret"):
        manifests.build({}, [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}], {})


def broken(path: str, value):
    obj = one(manifests.render(), "RayService")
    *parents, last = path.split(".")
    node = obj
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return obj


@requires_crds
@pytest.mark.parametrize(
    "path, value, cause",
    [
        pytest.param("spec.serveConfigV2", {"applications": []}, "spec.serveConfigV2",
                     id="config-not-a-string"),
        pytest.param("spec.upgradeStrategy", {"type": "NewClusterWithIncrementalUpgrade",
                                              "clusterUpgradeOptions": {"maxSurgePercent": 50}},
                     "clusterUpgradeOptions.gatewayClassName", id="upgrade-options-incomplete"),
        pytest.param("spec.rayClusterConfig.headGroupSpec.rayStartParams.num-cpus", 0,
                     "rayStartParams.num-cpus", id="start-param-not-a-string"),
        pytest.param("spec.rayClusterConfig.authOptions", {"mode": "tokens"}, "authOptions.mode",
                     id="auth-mode-unknown"),
        pytest.param("spec.rayClusterConfig.workerGroupSpecs.0.groupName", None,
                     "workerGroupSpecs[0].groupName", id="worker-group-unnamed"),
    ],
)  # fmt: skip
def test_a_broken_rayservice_is_rejected(crds, path, value, cause):
    with pytest.raises(Invalid) as refused:
        crds["RayService"].admit(broken(path, value))
    assert any(cause in c for c in refused.value.causes), refused.value.causes


def test_a_core_object_with_an_unknown_field_is_rejected():
    deployment = one(manifests.render(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(Invalid):
        validate_core(deployment)


@requires_crds
def test_a_batch_job_is_built_from_the_template(crds):
    template = manifests.batch_template(namespace="serving")
    assert template["spec"]["suspend"] is True and "example:1" in template["spec"]["entrypoint"]
    before = json.dumps(template)
    job = manifests.batch_job(
        template,
        "score-fraud-7",
        "fraud:3",
        "/data/in put.parquet",
        "/data/out",
        options=["--concurrency", "8"],
    )
    assert json.dumps(template) == before
    assert job["metadata"]["name"] == "score-fraud-7" and job["metadata"]["namespace"] == "serving"
    assert "suspend" not in job["spec"]
    assert shlex.split(job["spec"]["entrypoint"]) == [
        "raynomaly", "batch", "score", "fraud:3", "--input", "/data/in put.parquet", "--output", "/data/out",
        "--store", "/models", "--concurrency", "8",
    ]  # fmt: skip
    spec = crds["RayJob"].admit(job)["spec"]
    assert spec["submissionMode"] == "K8sJobMode" and spec["backoffLimit"] == 0
    assert spec["shutdownAfterJobFinishes"] is True and spec["ttlSecondsAfterFinished"] > 0
    with pytest.raises(InvalidSpec):
        manifests.batch_job(template, "x", "Fraud:latest", "a", "b")
    with pytest.raises(manifests.ManifestError, match="DNS-1035"):
        manifests.batch_job(template, "3-score", "fraud", "a", "b")


def test_what_the_kuberay_operator_checks_beyond_the_crd():
    """KubeRay's own checks (ray-operator/controllers/ray/utils/validation.go), which no CRD schema holds."""
    objects = manifests.render()
    rayservice, rayjob = one(objects, "RayService"), one(objects, "RayJob")
    assert rayservice["spec"]["upgradeStrategy"]["type"] in (
        "NewCluster",
        "NewClusterWithIncrementalUpgrade",
        "None",
    )
    assert (
        rayjob["spec"]["shutdownAfterJobFinishes"] is True
    )  # a suspended RayJob must shut down after it ends
    for obj, cluster in ((rayservice, "rayClusterConfig"), (rayjob, "rayClusterSpec")):
        assert manifests.DNS_LABEL.match(obj["metadata"]["name"])
        spec = obj["spec"][cluster]
        if spec.get("authOptions", {}).get("mode") == "token":  # needs Ray 2.52 or later, named
            assert tuple(int(p) for p in spec["rayVersion"].split(".")) >= (2, 52, 0)
        for group in [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]:
            assert "labels" not in group.get("rayStartParams", {})
            assert not (
                group.get("resources") and {"num-cpus", "num-gpus", "memory"} & set(group["rayStartParams"])
            )


def test_apply_keeps_the_live_serve_config_and_desired_state():
    rayservice = one(manifests.render(), "RayService")
    live = json.loads(json.dumps(rayservice))
    live["metadata"] |= {"resourceVersion": "42", "annotations": {ANNOTATION: '{"store": "/models"}'}}
    live["spec"]["serveConfigV2"] = "applications: []\n"
    update = manifests.for_update(rayservice, live)
    assert update["metadata"]["resourceVersion"] == "42"
    assert update["metadata"]["annotations"][ANNOTATION] == '{"store": "/models"}'
    assert update["spec"]["serveConfigV2"] == "applications: []\n"
    assert update["spec"]["rayClusterConfig"] == rayservice["spec"]["rayClusterConfig"]
    unmanaged = {**live, "metadata": {"resourceVersion": "7"}}
    assert manifests.for_update(rayservice, unmanaged)["spec"] == rayservice["spec"]
    deployment = one(manifests.render(), "Deployment")
    assert manifests.for_update(deployment, {"metadata": {"resourceVersion": "3"}}) == {
        **deployment, "metadata": {**deployment["metadata"], "resourceVersion": "3"},
    }  # fmt: skip


@pytest.mark.parametrize(
    "reference, entry",
    [
        ("raynomaly", {"newName": "raynomaly"}),
        ("ghcr.io/acme/raynomaly:1.2", {"newName": "ghcr.io/acme/raynomaly", "newTag": "1.2"}),
        ("registry:5000/raynomaly", {"newName": "registry:5000/raynomaly"}),
        ("registry:5000/raynomaly:2@sha256:ab", None),
        ("raynomaly@sha256:ab", {"newName": "raynomaly", "digest": "sha256:ab"}),
        ("raynomaly:", None),
    ],
)
def test_parse_image(reference, entry):
    if entry is None:
        with pytest.raises(manifests.ManifestError, match="NAME:TAG"):
            manifests.parse_image(reference)
    else:
        assert manifests.parse_image(reference) == entry


def test_the_image_build_matches_the_lock():
    dockerfile = (ROOT / "kuberay" / "Dockerfile").read_text()
    ray = re.search(r"^ray==(\S+)$", (ROOT / "requirements.lock").read_text(), re.M).group(1)
    assert f"rayproject/ray:{ray}-py311" in dockerfile
    assert {o["spec"].get("rayClusterConfig", o["spec"].get("rayClusterSpec"))["rayVersion"]
            for o in manifests.render() if o["kind"] in ("RayService", "RayJob")} == {ray}  # fmt: skip
    assert re.search(r"^USER 1000", dockerfile, re.M) and "HEALTHCHECK" in dockerfile
    assert "python -m runtime.rpc.generate" in dockerfile and "requirements.lock" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".raynomaly", "benchmarks/results", "tests"} <= set(ignored)
