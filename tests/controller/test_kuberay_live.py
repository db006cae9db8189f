"""Rollouts on the kuberay target, end to end: `raynomaly deploy --target kuberay` -> a controller
running in "cluster" mode (no local runtime; kubeconfig + Ray metrics URL) -> guarded patches of a
RayService in the fake Kubernetes API server -> the fake KubeRay operator applying each
serveConfigV2 to the real local Ray Serve -> judged from Ray's real metrics, under steady load.

The API server and the operator are test doubles (tests/kube/); Ray Serve and the controller are real.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from controller.kuberay import manifests
from controller.kuberay.api import KubeApi
from controller.kuberay.status import ANNOTATION, desired_of
from controller.service import ensure_admin_token
from controller.settings import ControllerSettings
from runtime.cluster import ensure_token
from runtime.record import read_served
from runtime.serveconfig import render
from tests.controller.live import Control, Load, moves, story
from tests.kube.apiserver import FakeKubeApiServer
from tests.kube.operator import FakeKubeRayOperator
from tests.kube.schema import load_crds, requires_crds

pytestmark = [pytest.mark.integration, pytest.mark.slow, requires_crds]
NAMESPACE, NAME = "serving", "raynomaly"
PORT = 38601
UPGRADE_S = 10.0


class KubeRay:
    """The fake cluster, its operator, the RayService, and a controller that knows only Kubernetes."""

    def __init__(self, served, root: Path):
        self.served, self.root = served, root
        self.server = FakeKubeApiServer(load_crds(), namespaces=(NAMESPACE,)).start()
        self.kubeconfig = self.server.write_kubeconfig(root / "kubeconfig")
        self.api = KubeApi.connect(str(self.kubeconfig))
        token = ensure_token(served.settings.token_path)
        venv = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # the image's PATH
        self.operator = FakeKubeRayOperator(
            self.server.api_client(),
            NAMESPACE,
            served.api_url,
            token,
            env={"PATH": venv},
            upgrade_s=UPGRADE_S,
        ).start()
        self.environ = {**served.environ, "RAYNOMALY_HOME": str(root / "state"),
                        "RAYNOMALY_CONTROLLER_PORT": str(PORT)}  # fmt: skip
        self.controller: subprocess.Popen | None = None

    def create_rayservice(self, desired) -> None:
        """The base's RayService, in our namespace, serving what the local runtime serves now."""
        obj = next(o for o in manifests.render(namespace=NAMESPACE) if o["kind"] == "RayService")
        obj["metadata"]["annotations"][ANNOTATION] = desired.model_dump_json()
        obj["spec"]["serveConfigV2"] = yaml.safe_dump(render(desired), sort_keys=False)
        self.api.create(obj)
        self.wait(
            lambda o: (o.get("status") or {}).get("serviceStatus") == "Running", "the RayService to run"
        )

    def rayservice(self) -> dict:
        return self.api.get("RayService", NAMESPACE, NAME)

    def wait(self, until, what: str, timeout_s: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            obj = self.rayservice()
            if until(obj):
                return obj
            time.sleep(0.3)
        raise AssertionError(
            f"timed out waiting for {what}: {obj.get('status')}; operator: {self.operator.errors}"
        )

    def start_controller(self) -> None:
        ensure_admin_token(ControllerSettings.resolve(self.environ))
        urls = ["--metrics-url", self.served.metrics_url, "--gateway-url", self.served.http]
        command = [str(Path(sys.executable).with_name("raynomaly")), "controller", "run",
                   "--kubeconfig", str(self.kubeconfig), *urls]  # fmt: skip
        log = open(self.root / "controller.log", "ab")  # noqa: SIM115 - the process keeps it
        self.controller = subprocess.Popen(command, env=self.environ, stdout=log, stderr=log)
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{PORT}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise AssertionError((self.root / "controller.log").read_text()[-3000:])

    def cli(self, *args: str):
        return self.served.cli(*args, environ=self.environ)

    def close(self) -> None:
        if self.controller is not None:
            self.controller.terminate()
            self.controller.wait(timeout=30)
        self.operator.stop()
        self.server.stop()


@pytest.fixture(scope="module")
def kuberay(served, tmp_path_factory):
    served.cli("traffic", "set", "sensor", "1=100")
    local = read_served(served.settings).desired
    world = KubeRay(served, tmp_path_factory.mktemp("kuberay"))
    try:
        world.create_rayservice(local)
        world.start_controller()
        yield world
    finally:
        world.close()
        served.apply(local)  # the local runtime serves its own record again


def test_a_canary_on_a_rayservice_waits_out_a_cluster_upgrade_and_succeeds(served, kuberay):
    control = Control(served, kuberay.environ)
    target = ["--target", "kuberay", "--namespace", NAMESPACE, "--rayservice", NAME]
    window = ["--interval", "8s", "--min-requests", "25", "--max-p99-ratio", "3"]
    with Load(served.http, key=served.key) as load:
        result = kuberay.cli("deploy", "sensor", "2", "--steps", "50,100", *window, *target, "--json")
        rollout_id = json.loads(result.stdout)["id"]
        control.wait(rollout_id, lambda r: r["step"] == 0 and r["window_started"] is not None)
        upgraded = kuberay.rayservice()  # an image change, as `raynomaly kuberay apply --image` makes
        head = upgraded["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
        head["image"] = "raynomaly:next"
        kuberay.api.replace(upgraded)
        answer = control.finished(rollout_id, timeout_s=300)
        time.sleep(2)
    record = answer["rollout"]
    assert record["phase"] == "Succeeded", story(answer)
    assert moves(answer) == ["advance", "promote", "succeed"], story(answer)
    waits = [
        e["detail"]["waiting"] for e in answer["events"] if e["kind"] == "waiting" and e["name"] == "waiting"
    ]
    assert any("UpgradeInProgress" in w for w in waits), answer["events"]
    assert load.failed == 0 and load.versions[1] > 0 and load.versions[2] > 0, load.statuses
    live = kuberay.rayservice()
    assert desired_of(live).traffic.models["sensor"].weights == {2: 100}
    served_table = httpx.get(
        f"{served.http}/api/v1/traffic", headers=served.headers, timeout=10
    ).json()  # what the real Serve runs
    assert served_table["models"]["sensor"]["weights"] == {"2": 100}
    assert not any(name.startswith("sensor--") for name in served.api.status()["applications"])  # inline
    patches = [r for r in kuberay.server.requests if r[0] == "PATCH" and "/rayservices/" in r[1]]
    assert patches and all(r[2].startswith("application/json-patch+json") for r in patches)
    status = json.loads(kuberay.cli("rollout", "status", rollout_id, "--json").stdout)
    assert status["spec"]["target"] == {
        "kind": "kuberay",
        "namespace": NAMESPACE,
        "rayservice": NAME,
        "home": None,
    }


def test_an_image_upgrade_is_left_to_kuberay_then_judged_on_the_new_cluster(served, kuberay):
    control = Control(served, kuberay.environ)
    serving = next(
        v for v, w in desired_of(kuberay.rayservice()).traffic.models["sensor"].weights.items() if w == 100
    )
    target = ["--target", "kuberay", "--namespace", NAMESPACE, "--rayservice", NAME]
    window = ["--interval", "8s", "--min-requests", "25"]
    with Load(served.http, key=served.key) as load:
        result = kuberay.cli("deploy", "sensor", str(serving), "--strategy", "upgrade", "--image",
                             "raynomaly:1.1", *window, *target, "--json")  # fmt: skip
        answer = control.finished(json.loads(result.stdout)["id"], timeout_s=240)
    assert answer["rollout"]["phase"] == "Succeeded", story(answer)
    waits = [
        e["detail"]["waiting"] for e in answer["events"] if e["name"] == "waiting" and e["detail"]["waiting"]
    ]
    assert waits and "UpgradeInProgress" in waits[0]  # no window opened while KubeRay upgraded
    head = kuberay.rayservice()["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"][
        "containers"
    ][0]
    assert head["image"] == "raynomaly:1.1"
    assert answer["rollout"]["previous_cluster"]["image"] != "raynomaly:1.1"
    assert load.failed == 0, load.statuses


def test_a_batch_rayjob_scores_every_row_like_models_score(served, kuberay):
    import numpy as np
    import pyarrow as pa
    from pyarrow import parquet

    from models.demo import FEATURES, readings

    rows = readings(3000, 0.05, seed=7)
    table = pa.table({"key": np.arange(len(rows)), **{name: rows[:, i] for i, name in enumerate(FEATURES)}})
    parquet.write_table(table, kuberay.root / "readings.parquet")
    output = kuberay.root / "scored"
    store = served.environ["RAYNOMALY_STORE"]
    common = ["--input", str(kuberay.root / "readings.parquet"), "--store", store]
    cluster = ["--target", "kuberay", "--namespace", NAMESPACE, "--kubeconfig", str(kuberay.kubeconfig)]
    result = kuberay.cli("batch", "score", "fraud:1", *common, "--output", str(output), *cluster, "--json")
    summary = json.loads(result.stdout)
    jobs = [o for o in kuberay.server.requests if o[0] == "POST" and o[1].endswith("/rayjobs")]
    assert len(jobs) == 1 and summary["state"].startswith("Complete (Ray job SUCCEEDED)"), summary
    rayjob = kuberay.api.get("RayJob", NAMESPACE, summary["rayjob"])
    assert rayjob["status"]["jobDeploymentStatus"] == "Complete"
    assert "raynomaly batch score fraud:1" in rayjob["spec"]["entrypoint"]
    scored = parquet.read_table(output).sort_by("key")
    assert scored.num_rows == len(rows) and scored["key"].to_pylist() == list(range(len(rows)))
    reference, data = kuberay.root / "reference.parquet", common[1]
    kuberay.cli("models", "score", "fraud:1", "--data", data, "--store", store, "--output", str(reference))
    expected = parquet.read_table(reference).sort_by("key")
    assert np.allclose(scored["score"].to_numpy(), expected["score"].to_numpy())
    assert scored["label"].to_pylist() == expected["label"].to_pylist()
