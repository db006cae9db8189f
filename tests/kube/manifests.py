"""Minimal valid KubeRay manifests for tests: only what the v1.7.0 CRDs require, plus what is asked for.

A RayService needs `spec.rayClusterConfig.headGroupSpec.template.spec.containers[]` with a `name`
(`rayStartParams` is optional since KubeRay 1.3); a RayJob needs nothing in `spec` at all.
"""

GROUP, VERSION = "ray.io", "v1"


HEAD = {"name": "ray-head", "image": "rayproject/ray:2.60.0"}


def rayservice(
    name: str = "serving", namespace: str | None = None, containers: list[dict] | None = None, **spec
) -> dict:
    """A RayService whose head pod runs `containers` (one `ray-head` by default); `spec` entries are added
    to (or replace) its spec."""
    head = {"template": {"spec": {"containers": containers or [dict(HEAD)]}}}
    obj = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RayService",
        "metadata": {"name": name},
        "spec": {"rayClusterConfig": {"headGroupSpec": head}, **spec},
    }
    if namespace is not None:
        obj["metadata"]["namespace"] = namespace
    return obj


def rayjob(name: str = "train", **spec) -> dict:
    """A RayJob running `python -c pass` on a cluster it creates."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RayJob",
        "metadata": {"name": name},
        "spec": {"entrypoint": "python -c pass", **spec},
    }


def configmap(name: str = "settings", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}


def deployment(name: str = "controller", app: str = "raynomaly") -> dict:
    container = {"name": "controller", "image": "raynomaly:test"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [container]}},
        },
    }
