"""CRD-based admission: what the API server stores for a custom object, from the real KubeRay CRDs.

`CustomResource.admit` follows apiextensions-apiserver, in its order: nulls dropped, unknown fields
pruned (named, for the `Warning` header), `default:` values applied, the OpenAPI schema checked, and
then, unless a type/required/enum error already blocks them, every `x-kubernetes-validations` CEL rule.
`validate_core` checks built-in kinds (Service, Deployment, Role, ...) with kubernetes-validate.
The CRDs are data, read from `../shared/kuberay-crds/` beside the repository (KubeRay v1.7.0).
"""

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.kube import objectmeta, openapi, structural
from tests.kube.celrules import Rules
from tests.kube.fielderrors import BLOCKING, NOT_CHECKED, FieldError, Invalid, join, type_name

__all__ = ["CustomResource", "Invalid", "crd_dir", "load_crds", "requires_crds", "validate_core"]

CRD_FILES = ("ray.io_rayservices.yaml", "ray.io_rayjobs.yaml", "ray.io_rayclusters.yaml")
VERSION = "v1"


def crd_dir() -> Path | None:
    """The folder of the KubeRay CRDs (`../shared/kuberay-crds` beside the repository), None if absent."""
    path = Path(__file__).resolve().parents[2].parent / "shared" / "kuberay-crds"
    return path if path.is_dir() else None


requires_crds = pytest.mark.skipif(
    crd_dir() is None,
    reason="../shared/kuberay-crds/ (the KubeRay v1.7.0 CRDs) is absent: copy ray-operator/config/crd/bases/"
    "ray.io_{rayservices,rayjobs,rayclusters}.yaml of KubeRay v1.7.0 there to run these tests",
)


@dataclass(frozen=True)
class CustomResource:
    """One served version of a CRD, and the admission the API server gives its objects."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    status_subresource: bool
    schema: dict = field(repr=False)
    _validator: object = field(init=False, repr=False, compare=False)
    _rules: Rules = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled once, here, so that a schema or CEL rule this double cannot handle fails at load time.
        object.__setattr__(self, "_validator", openapi.validator(self.schema))
        object.__setattr__(self, "_rules", Rules(self.schema))

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def admit(self, obj: dict, old: dict | None = None) -> dict:
        """What the API server stores for `obj` (a new dict); Invalid listing every cause otherwise.

        `old` is the stored object on an update: transition rules (`oldSelf`) run only then.
        """
        return self.admit_with_warnings(obj, old)[0]

    def admit_with_warnings(self, obj: dict, old: dict | None = None) -> tuple[dict, list[str]]:
        """`admit`, and the warnings the server sends with it: `unknown field "spec.foo"` per pruned field."""
        value = structural.drop_nulls(copy.deepcopy(obj), self.schema)
        pruned: list[str] = []
        value = structural.prune_object(value, self.schema, pruned)
        structural.apply_defaults(value, self.schema)
        errors = self._identity_errors(value) + objectmeta.errors(value.get("metadata") or {}, self.kind)
        errors += openapi.errors(self._validator, value) + structural.duplicates(value, self.schema)
        if any(e.kind in BLOCKING for e in errors):
            errors.append(FieldError("", "Invalid value", NOT_CHECKED, None))
        else:
            errors += self._rules.check(value, old)
        if errors:
            raise Invalid(errors)
        return value, [f'unknown field "{path}"' for path in sorted(pruned)]

    def _identity_errors(self, obj: dict) -> list[FieldError]:
        expected = {"apiVersion": self.api_version, "kind": self.kind}
        return [
            FieldError(key, "Invalid value", f"must be {want!r} for a {self.kind}", obj.get(key))
            for key, want in expected.items()
            if obj.get(key) != want
        ]


def _custom_resource(crd: dict, source: Path) -> CustomResource:
    spec = crd["spec"]
    versions = {v["name"]: v for v in spec["versions"]}
    if VERSION not in versions:
        raise ValueError(
            f"{source} serves no {VERSION} version ({', '.join(versions)}): is it a KubeRay CRD?"
        )
    version = versions[VERSION]
    return CustomResource(
        group=spec["group"],
        version=VERSION,
        kind=spec["names"]["kind"],
        plural=spec["names"]["plural"],
        namespaced=spec["scope"] == "Namespaced",
        status_subresource="status" in (version.get("subresources") or {}),
        schema=version["schema"]["openAPIV3Schema"],
    )


@functools.cache
def _load(directory: Path) -> tuple[CustomResource, ...]:
    resources = []
    for name in CRD_FILES:
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {requires_crds.kwargs['reason']}")
        # libyaml's loader: the pure-Python one takes seconds on these 60,000 lines
        resources.append(_custom_resource(yaml.load(path.read_text(), Loader=yaml.CSafeLoader), path))
    return tuple(resources)


def load_crds(directory: Path | None = None) -> dict[str, CustomResource]:
    """The KubeRay CRDs by kind (RayService, RayJob, RayCluster); refuses a rule it cannot evaluate.

    Parsed once per folder (the resources are immutable); each call returns a new dict.
    """
    directory = directory or crd_dir()
    if directory is None:
        raise FileNotFoundError(f"no KubeRay CRDs: {requires_crds.kwargs['reason']}")
    return {resource.kind: resource for resource in _load(directory.resolve())}


def validate_core(obj: dict, kubernetes_version: str = "1.33.0") -> None:
    """Check a built-in object with kubernetes-validate, strictly (an unknown field is an error).

    Raises Invalid naming the first violation, or naming the kind when no schema knows it.
    """
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if not kind or not api_version:
        raise Invalid([FieldError("kind" if not kind else "apiVersion", "Required value")])
    try:
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
    except kubernetes_validate.SchemaNotFoundError as e:
        detail = f"no schema for {kind} {api_version} in Kubernetes {kubernetes_version} ({e.message})"
        raise Invalid([FieldError("kind", "Unsupported value", detail, kind)]) from e
    except kubernetes_validate.ValidationError as e:
        path = ""
        for key in e.absolute_path:
            path = join(path, key)
        value = e.instance if not isinstance(e.instance, dict | list) else type_name(e.instance)
        raise Invalid([FieldError(path, "Invalid value", e.message, value)]) from e
    errors = objectmeta.errors(obj.get("metadata") or {}, kind)
    if errors:
        raise Invalid(errors)
