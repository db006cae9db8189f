"""The resource types the fake API server serves: every loaded CRD, and a few built-in kinds.

A `ResourceType` says where a kind lives (group, version, plural), how its objects are admitted, and
which of the server's rules apply to it: a status subresource, generation tracking, immutable fields.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass

from tests.kube.schema import CustomResource, validate_core

Admit = Callable[[dict, dict | None], tuple[dict, list[str]]]


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    admit: Admit  # (object, stored object or None) -> (object to store, warnings); raises Invalid
    custom: bool  # a custom resource: strategic merge patches are refused with 415, as for CRDs
    status_subresource: bool
    tracks_generation: bool
    immutable: tuple[str, ...] = ()  # dotted paths that may not change once created

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """The name errors use for the resource: `rayservices.ray.io`, `deployments.apps`, `configmaps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def prefix(self) -> str:
        """The URL prefix of its group version: `/apis/ray.io/v1` or `/api/v1`."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


def _admit_builtin(obj: dict, old: dict | None) -> tuple[dict, list[str]]:
    validate_core(obj)
    return copy.deepcopy(obj), []


def _builtin(
    group: str, kind: str, plural: str, status: bool, generation: bool, immutable=()
) -> ResourceType:
    return ResourceType(group, "v1", kind, plural, _admit_builtin, False, status, generation, immutable)


# Built-in kinds are validated, not defaulted: no clusterIP is allocated, no Deployment defaults filled.
BUILTINS = (
    _builtin("", "ServiceAccount", "serviceaccounts", status=False, generation=False),
    _builtin("", "Service", "services", status=True, generation=False),
    _builtin("", "ConfigMap", "configmaps", status=False, generation=False),
    _builtin("apps", "Deployment", "deployments", status=True, generation=True, immutable=("spec.selector",)),
    _builtin("rbac.authorization.k8s.io", "Role", "roles", status=False, generation=False),
    _builtin(
        "rbac.authorization.k8s.io", "RoleBinding", "rolebindings", False, False, immutable=("roleRef",)
    ),
)


def custom(resource: CustomResource) -> ResourceType:
    """The resource type of a loaded CRD (its objects track generation, as every custom object does)."""
    if not resource.namespaced:
        raise ValueError(f"{resource.kind} is cluster-scoped: this double serves namespaced resources only")
    return ResourceType(
        resource.group,
        resource.version,
        resource.kind,
        resource.plural,
        resource.admit_with_warnings,
        custom=True,
        status_subresource=resource.status_subresource,
        tracks_generation=True,
    )


def served(crds: dict[str, CustomResource]) -> dict[tuple[str, str, str], ResourceType]:
    """Every served resource type by (group, version, plural)."""
    types = [*(custom(resource) for resource in crds.values()), *BUILTINS]
    return {(t.group, t.version, t.plural): t for t in types}
