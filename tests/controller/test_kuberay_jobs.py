"""Batch RayJobs: what KubeRay's two status fields mean (pure), and following a job to its end
against the fake Kubernetes API server (a double; the status is written the way KubeRay does)."""

import threading

import pytest

from controller.kuberay import jobs, manifests
from controller.kuberay.api import KubeApi
from tests.kube.apiserver import FakeKubeApiServer
from tests.kube.schema import load_crds, requires_crds


@pytest.mark.parametrize(
    ("status", "outcome", "words"),
    [
        pytest.param({}, None, "New", id="not-picked-up-yet"),
        pytest.param({"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"}, None, "Running",
                     id="running"),
        pytest.param({"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}, True, "SUCCEEDED",
                     id="succeeded"),
        pytest.param({"jobDeploymentStatus": "Complete", "jobStatus": "STOPPED"}, False, "did not succeed",
                     id="complete-but-stopped"),
        pytest.param({"jobDeploymentStatus": "Failed", "jobStatus": "FAILED", "message": "bad rows: 3"},
                     False, "bad rows: 3", id="failed-with-reason"),
        pytest.param({"jobDeploymentStatus": "ValidationFailed", "message": "no entrypoint"}, False,
                     "no entrypoint", id="refused-by-kuberay"),
    ],
)  # fmt: skip
def test_state(status, outcome, words):
    text, succeeded = jobs.state({"status": status})
    assert succeeded is outcome and words in text


@requires_crds
@pytest.mark.parametrize("succeeds", [True, False], ids=["succeeds", "fails"])
def test_a_job_is_created_and_followed_to_its_end(tmp_path, succeeds):
    with FakeKubeApiServer(load_crds(), namespaces=("batch",)) as server:
        api = KubeApi.connect(str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        template = manifests.batch_template(namespace="batch")
        job = manifests.batch_job(
            template, "raynomaly-batch-test", "fraud:1", "/data/in.parquet", "/data/out"
        )
        seen: list[str] = []

        def finish() -> None:  # what KubeRay writes once the Ray job ended
            obj = api.get("RayJob", "batch", "raynomaly-batch-test")
            final = ("Complete", "SUCCEEDED") if succeeds else ("Failed", "FAILED")
            obj["status"] = {"jobDeploymentStatus": final[0], "jobStatus": final[1], "message": "exit 1"}
            from kubernetes import client

            custom = client.CustomObjectsApi(server.api_client())
            custom.replace_namespaced_custom_object_status(
                "ray.io", "v1", "batch", "rayjobs", obj["metadata"]["name"], obj
            )

        timer = threading.Timer(0.5, finish)
        timer.start()
        try:
            if succeeds:
                final = jobs.run(api, job, seen.append, timeout_s=30, poll_s=0.1)
                assert final["status"]["jobStatus"] == "SUCCEEDED"
            else:
                with pytest.raises(jobs.JobFailed, match="exit 1"):
                    jobs.run(api, job, seen.append, timeout_s=30, poll_s=0.1)
        finally:
            timer.cancel()
        assert seen[0].endswith("New (Ray job -)") and len(seen) == 2
        assert "suspend" not in api.get("RayJob", "batch", "raynomaly-batch-test")["spec"] or not job[
            "spec"
        ].get("suspend")
