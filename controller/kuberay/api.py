"""The one seam to the Kubernetes API, through the official `kubernetes` client.

Objects go in and come out as plain dicts; every client error is translated here, once, into a
`KubeError` (controller/kuberay/errors.py), or a `Conflict` (runtime/conflict.py) for a 409, that
says what happened and what to do. Kinds are looked up in one explicit table.
"""

import json
from dataclasses import dataclass

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

from controller.kuberay.errors import Invalid, KubeError, NotFound
from runtime.conflict import Conflict

JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str


KINDS = {
    "RayService": Resource("ray.io", "v1", "rayservices"),
    "RayJob": Resource("ray.io", "v1", "rayjobs"),
    "RayCluster": Resource("ray.io", "v1", "rayclusters"),
    "PodMonitor": Resource("monitoring.coreos.com", "v1", "podmonitors"),
    "PrometheusRule": Resource("monitoring.coreos.com", "v1", "prometheusrules"),
    "Deployment": Resource("apps", "v1", "deployments"),
    "Role": Resource("rbac.authorization.k8s.io", "v1", "roles"),
    "RoleBinding": Resource("rbac.authorization.k8s.io", "v1", "rolebindings"),
    "ServiceAccount": Resource("", "v1", "serviceaccounts"),
    "Service": Resource("", "v1", "services"),
    "ConfigMap": Resource("", "v1", "configmaps"),
}
_CORE_METHODS = {"ServiceAccount": "service_account", "Service": "service", "ConfigMap": "config_map"}


def resource(kind: str) -> Resource:
    """The API resource of `kind`; KubeError listing the kinds this project writes."""
    if kind not in KINDS:
        raise KubeError(f"raynomaly does not manage {kind!r} objects; it manages {', '.join(KINDS)}")
    return KINDS[kind]


def _translate(error: ApiException, what: str) -> KubeError | Conflict:
    try:
        status = json.loads(error.body or "{}")
    except ValueError:
        status = {}
    message = status.get("message") or error.reason or str(error)
    causes = [c.get("message", "") for c in (status.get("details") or {}).get("causes") or []]
    text = f"{what}: {message}" + "".join(f"; {c}" for c in causes if c and c not in message)
    if error.status == 404:
        return NotFound(f"{text} (is the namespace right, and are the KubeRay CRDs installed?)")
    if error.status == 409:
        return Conflict(text)
    if error.status in (400, 422):
        return Invalid(text)
    if error.status in (401, 403):
        return KubeError(f"{text} — check the credentials, and that the Role grants this verb")
    return KubeError(f"{text} (HTTP {error.status})")


class KubeApi:
    """Reads and writes objects of the kinds in `KINDS`."""

    def __init__(self, api_client: client.ApiClient):
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._host = api_client.configuration.host

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> "KubeApi":
        """In-cluster credentials when running in a pod (and no kubeconfig is given), else kubeconfig."""
        configuration = client.Configuration()
        try:
            if kubeconfig is None and context is None:
                try:
                    config.load_incluster_config(client_configuration=configuration)
                    return cls(client.ApiClient(configuration))
                except ConfigException:
                    pass
            config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        except (ConfigException, OSError) as e:
            raise KubeError(f"no Kubernetes credentials: {e}; pass --kubeconfig or set KUBECONFIG") from e
        return cls(client.ApiClient(configuration))

    def _call(self, what: str, method, *args, **kwargs) -> dict:
        try:
            response = method(*args, **kwargs)
        except ApiException as e:
            raise _translate(e, what) from e
        except urllib3.exceptions.HTTPError as e:
            raise KubeError(f"{what}: cannot reach the Kubernetes API at {self._host}: {e}") from e
        if hasattr(response, "data"):  # a core call made with _preload_content=False
            return json.loads(response.data or b"{}")
        return response

    def _verb(self, verb: str, kind: str, namespace: str, name: str | None, body=None, **kwargs) -> dict:
        """One call for any kind: the typed core API for the core group, CustomObjectsApi (which
        serves every other group, apps and rbac included) for the rest."""
        r, what = resource(kind), f"{verb} {kind} {namespace}/{name or body['metadata']['name']}"
        named = () if name is None else (name,)
        payload = () if body is None else (body,)
        if not r.group:
            core = {"get": "read"}.get(verb, verb)
            method = getattr(self._core, f"{core}_namespaced_{_CORE_METHODS[kind]}")
            return self._call(what, method, *named, namespace, *payload, _preload_content=False, **kwargs)
        method = getattr(self._custom, f"{verb}_namespaced_custom_object")
        return self._call(what, method, r.group, r.version, namespace, r.plural, *named, *payload, **kwargs)

    def get(self, kind: str, namespace: str, name: str) -> dict:
        """The object; NotFound if it does not exist."""
        return self._verb("get", kind, namespace, name)

    def create(self, obj: dict) -> dict:
        """Create `obj` (Conflict if it exists)."""
        return self._verb("create", obj["kind"], obj["metadata"]["namespace"], None, obj)

    def replace(self, obj: dict) -> dict:
        """Replace `obj`; Conflict if its `metadata.resourceVersion` is stale."""
        metadata = obj["metadata"]
        return self._verb("replace", obj["kind"], metadata["namespace"], metadata["name"], obj)

    def patch(self, kind: str, namespace: str, name: str, operations: list[dict]) -> dict:
        """Apply a JSON patch (RFC 6902) to a custom object; Conflict if it sets a stale resourceVersion."""
        if not resource(kind).group:
            raise KubeError(f"JSON patches of {kind} are not used by raynomaly")
        return self._verb("patch", kind, namespace, name, operations, _content_type=JSON_PATCH)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete the object; NotFound if it does not exist."""
        self._verb("delete", kind, namespace, name)
