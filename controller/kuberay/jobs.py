"""Batch jobs on KubeRay: what a RayJob's status means (pure), and running one to its end.

KubeRay reports two fields: `jobDeploymentStatus` (the RayJob's own lifecycle: Initializing,
Running, Complete, Failed, ValidationFailed, ...) and `jobStatus` (the Ray job's: PENDING, RUNNING,
SUCCEEDED, FAILED, STOPPED). A job succeeded only when both say so.
"""

import time
from collections.abc import Callable

from controller.kuberay.api import KubeApi
from controller.kuberay.errors import KubeError

FAILED = frozenset({"Failed", "ValidationFailed"})


class JobFailed(KubeError):
    """The RayJob ended without success; the message carries KubeRay's and Ray's reasons."""


def state(rayjob: dict) -> tuple[str, bool | None]:
    """(the job's state in words, True/False once it succeeded/failed, None while it runs) (pure)."""
    status = rayjob.get("status") or {}
    deployment, job = status.get("jobDeploymentStatus") or "New", status.get("jobStatus") or "-"
    words = f"{deployment} (Ray job {job})"
    if deployment == "Complete":
        if job == "SUCCEEDED":
            return words, True
        return f"{words}: {status.get('message') or 'the Ray job did not succeed'}", False
    if deployment in FAILED:
        return f"{words}: {status.get('message') or 'no message'}", False
    return words, None


def run(
    api: KubeApi, job: dict, progress: Callable[[str], None], timeout_s: float, poll_s: float = 1.0
) -> dict:
    """Create the RayJob and follow it until it ends; returns the final object, JobFailed if it
    failed, TimeoutError (the job keeps running) if it is still going after `timeout_s`."""
    namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
    api.create(job)
    deadline, last = time.monotonic() + timeout_s, None
    while True:
        rayjob = api.get("RayJob", namespace, name)
        words, succeeded = state(rayjob)
        if words != last:
            progress(f"RayJob {namespace}/{name}: {words}")
            last = words
        if succeeded is not None:
            if not succeeded:
                raise JobFailed(f"RayJob {namespace}/{name} failed: {words}")
            return rayjob
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"RayJob {namespace}/{name} still {words} after {timeout_s:.0f} s; it keeps running "
                f"(follow it with kubectl get rayjob -n {namespace} {name})"
            )
        time.sleep(poll_s)
