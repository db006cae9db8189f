"""A test double of the KubeRay operator (not KubeRay): what KubeRay does with RayServices and
RayJobs, done on the one local Ray cluster the tests start.

- RayService: applies `spec.serveConfigV2` to the real local Ray Serve through the dashboard REST
  API whenever it changes, and writes KubeRay-shaped status back (observedGeneration,
  activeServiceStatus.applicationStatuses from Serve's own statuses, Ready / UpgradeInProgress
  conditions). A change of `rayClusterConfig` under an upgrade strategy simulates KubeRay's
  upgrade: a pending cluster and `UpgradeInProgress` for `upgrade_s`, then promotion. It cannot
  start a second Ray cluster here, so the "new" cluster is the same local one.
- RayJob: submits `spec.entrypoint` to the local cluster through Ray's job submission API and
  writes `jobId`, `jobStatus` and `jobDeploymentStatus` as KubeRay does. `env` stands in for the
  container image (e.g. PATH to the installed `raynomaly`).
Everything goes through the fake API server with the official client, as the operator would.
"""

import hashlib
import json
import threading
import time
from datetime import UTC, datetime

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from ray.job_submission import JobStatus, JobSubmissionClient

from runtime.serve_api import ServeApi, ServeApiError

GROUP, VERSION = "ray.io", "v1"
UPGRADING = ("NewCluster", "NewClusterWithIncrementalUpgrade")
JOB_DONE = {JobStatus.SUCCEEDED: "Complete", JobStatus.FAILED: "Failed", JobStatus.STOPPED: "Failed"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, true: bool, reason: str, message: str = "", generation: int = 0) -> dict:
    return {"type": kind, "status": "True" if true else "False", "reason": reason, "message": message,
            "lastTransitionTime": _now(), "observedGeneration": generation}  # fmt: skip


class FakeKubeRayOperator:
    def __init__(
        self,
        api_client: client.ApiClient,
        namespace: str,
        dashboard_url: str,
        token: str,
        env: dict[str, str] | None = None,
        upgrade_s: float = 3.0,
        period_s: float = 0.25,
    ):
        self._custom = client.CustomObjectsApi(api_client)
        self._namespace, self._env = namespace, env or {}
        self._upgrade_s, self._period_s = upgrade_s, period_s
        self._serve = ServeApi(dashboard_url, token)
        self._jobs = JobSubmissionClient(dashboard_url, headers={"Authorization": f"Bearer {token}"})
        self._services: dict[str, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-kuberay", daemon=True)
        self.errors: list[str] = []

    def start(self) -> "FakeKubeRayOperator":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except (ApiException, ServeApiError) as e:  # retried next period, as the operator requeues
                self.errors.append(str(e)[:500])
            self._stop.wait(self._period_s)

    def _list(self, plural: str) -> list[dict]:
        return self._custom.list_namespaced_custom_object(GROUP, VERSION, self._namespace, plural)["items"]

    def reconcile(self) -> None:
        for rayservice in self._list("rayservices"):
            self._service(rayservice)
        for rayjob in self._list("rayjobs"):
            self._job(rayjob)

    def _write_status(self, plural: str, obj: dict, status: dict) -> None:
        """Replace the status when it changed (conditions keep their transition times)."""
        before = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
        for condition in status.get("conditions", []):
            previous = before.get(condition["type"])
            if previous is not None and previous.get("status") == condition["status"]:
                condition["lastTransitionTime"] = previous.get("lastTransitionTime")
        if obj.get("status") == status:
            return
        try:
            self._custom.replace_namespaced_custom_object_status(
                GROUP, VERSION, self._namespace, plural, obj["metadata"]["name"], {**obj, "status": status}
            )
        except ApiException as e:
            if e.status != 409:  # changed meanwhile: the next pass sees the newer object
                raise

    def _service(self, rayservice: dict) -> None:
        name, generation = rayservice["metadata"]["name"], rayservice["metadata"]["generation"]
        spec = rayservice["spec"]
        cluster = json.dumps(spec.get("rayClusterConfig"), sort_keys=True)
        cluster = hashlib.sha256(cluster.encode()).hexdigest()
        state = self._services.setdefault(name, {"cluster": cluster, "config": None, "since": None})
        active = f"{name}-{state['cluster'][:5]}"
        strategy = (spec.get("upgradeStrategy") or {}).get("type", "NewCluster")
        if cluster != state["cluster"] and strategy in UPGRADING:
            state["since"] = state["since"] or time.monotonic()
            if time.monotonic() - state["since"] < self._upgrade_s:
                self._write_status("rayservices", rayservice, self._upgrading(rayservice, active, cluster))
                return
            state.update(cluster=cluster, since=None)
            active = f"{name}-{cluster[:5]}"
        if spec.get("serveConfigV2") != state["config"]:
            self._serve.apply(yaml.safe_load(spec["serveConfigV2"]))
            state["config"] = spec["serveConfigV2"]
        applications = {
            app: {
                "status": detail.get("status", ""),
                "message": detail.get("message", ""),
                "serveDeploymentStatuses": {
                    d: {"status": s.get("status", ""), "message": s.get("message", "")}
                    for d, s in (detail.get("deployments") or {}).items()
                },
            }
            for app, detail in self._serve.status().get("applications", {}).items()
        }
        running = bool(applications) and all(a["status"] == "RUNNING" for a in applications.values())
        status = {
            "observedGeneration": generation,
            "serviceStatus": "Running" if running else "",
            "numServeEndpoints": 1 if running else 0,
            "activeServiceStatus": {"rayClusterName": active, "applicationStatuses": applications},
            "conditions": [
                _condition("Ready", running, "NonZeroServeEndpoints" if running else "ZeroServeEndpoints"),
                _condition("UpgradeInProgress", False, "NoPendingCluster"),
            ],
        }
        self._write_status("rayservices", rayservice, status)

    def _upgrading(self, rayservice: dict, active: str, cluster: str) -> dict:
        status = dict(rayservice.get("status") or {})
        status["observedGeneration"] = rayservice["metadata"]["generation"]  # KubeRay observes it at once
        status["pendingServiceStatus"] = {"rayClusterName": f"{rayservice['metadata']['name']}-{cluster[:5]}"}
        status["conditions"] = [
            _condition("Ready", True, "NonZeroServeEndpoints"),
            _condition("UpgradeInProgress", True, "BothActivePendingClustersExist",
                       f"pending cluster {status['pendingServiceStatus']['rayClusterName']}"),
        ]  # fmt: skip
        status.setdefault("activeServiceStatus", {})["rayClusterName"] = active
        return status

    def _job(self, rayjob: dict) -> None:
        status = dict(rayjob.get("status") or {})
        if status.get("jobDeploymentStatus") in ("Complete", "Failed"):
            return
        if not status.get("jobId"):
            runtime_env = yaml.safe_load(rayjob["spec"].get("runtimeEnvYAML") or "{}") or {}
            runtime_env["env_vars"] = {**self._env, **runtime_env.get("env_vars", {})}
            job_id = f"{rayjob['metadata']['name']}-{rayjob['metadata']['uid'][:8]}"
            self._jobs.submit_job(entrypoint=rayjob["spec"]["entrypoint"], submission_id=job_id,
                                  runtime_env=runtime_env)  # fmt: skip
            status |= {"jobId": job_id, "jobDeploymentStatus": "Running", "jobStatus": "PENDING",
                       "rayClusterName": "local", "startTime": _now()}  # fmt: skip
        else:
            info = self._jobs.get_job_info(status["jobId"])
            status["jobStatus"] = str(info.status.value)
            if info.status in JOB_DONE:
                status |= {"jobDeploymentStatus": JOB_DONE[info.status], "endTime": _now(),
                           "message": (info.message or "")[-2000:]}  # fmt: skip
                status["succeeded" if info.status == JobStatus.SUCCEEDED else "failed"] = 1
        self._write_status("rayjobs", rayjob, status)
