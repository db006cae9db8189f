"""The kustomize base in `kuberay/`, rendered as `kustomize build` would for the fields it uses
(resources, namespace, images, labels, and a configMapGenerator with fixed names), the update that
`kuberay apply` writes over a live object, and the batch RayJob built from the base's template.

Reading the base (`load`) is the only I/O; everything else is pure and works on copies. The base is
package data (`controller/kuberay/base`, a link to the repository's `kuberay/` that a wheel build
copies), so an installed raynomaly renders the same objects as a source checkout.
"""

import copy
import re
import shlex
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from controller.kuberay.status import ANNOTATION
from models.store import parse_ref

BASE = resources.files("controller.kuberay") / "base"
IMPLEMENTED = {
    "kustomization.yaml": {
        "apiVersion",
        "kind",
        "namespace",
        "resources",
        "images",
        "labels",
        "configMapGenerator",
    },
    "labels": {"pairs"},
    "configMapGenerator": {"name", "files", "options"},
    "configMapGenerator options": {"labels", "disableNameSuffixHash"},
}
APPLY_ORDER = ("ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service", "Deployment",
               "RayCluster", "RayService", "RayJob", "PodMonitor", "PrometheusRule")  # fmt: skip
IMAGE, GPU_IMAGE = "raynomaly", "raynomaly-gpu"
BATCH_JOB = "raynomaly-batch"
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
"""KubeRay's rule for RayJob and RayService names (a DNS-1035 label)."""


class ManifestError(ValueError):
    """The base uses something `kuberay render` does not implement, or a value is malformed."""


def _implemented(where: str, fields: dict) -> None:
    unknown = sorted(set(fields) - IMPLEMENTED[where])
    if unknown:
        raise ManifestError(
            f"kuberay render implements resources, namespace, images, labels (pairs) and configMapGenerator "
            f"(files, options.labels, options.disableNameSuffixHash: true); {where} uses "
            f"{', '.join(unknown)}: use kustomize for those (kubectl apply -k kuberay/)"
        )


def load(base: Traversable = BASE) -> tuple[dict, list[dict], dict[str, str]]:
    """(kustomization, the resources' documents in order, the generators' files) read from `base`."""
    if not (base / "kustomization.yaml").is_file():
        raise ManifestError(
            f"no kustomize base at {base}: reinstall raynomaly (its package carries the base), or in a "
            "source checkout restore the link controller/kuberay/base -> ../../kuberay"
        )
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text()) or {}
    documents = []
    for resource in kustomization.get("resources", []):
        documents += [d for d in yaml.safe_load_all((base / resource).read_text()) if d]
    files = {
        name: (base / name).read_text()
        for generator in kustomization.get("configMapGenerator", [])
        for name in generator.get("files", [])
    }
    return kustomization, documents, files


def _split(image: str) -> tuple[str, str, str]:
    """`name[:tag][@digest]` -> (name, tag, digest); a registry port is not a tag."""
    name, _, digest = image.partition("@")
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
        return name, tag, digest
    return name, "", digest


def parse_image(reference: str) -> dict:
    """`registry/name[:tag][@digest]` as a kustomize images entry (newName and newTag or digest)."""
    name, tag, digest = _split(reference)
    if not name or (tag and digest) or reference.endswith((":", "@")):
        raise ManifestError(f"image {reference!r} is not NAME, NAME:TAG or NAME@DIGEST")
    return {"newName": name} | ({"newTag": tag} if tag else {}) | ({"digest": digest} if digest else {})


def _retag(image: str, entries: dict[str, dict]) -> str:
    name, tag, digest = _split(image)
    entry = entries.get(name)
    if entry is None:
        return image
    name, tag = entry.get("newName", name), entry.get("newTag", tag)
    digest = entry.get("digest", "" if "newTag" in entry else digest)
    return name + (f"@{digest}" if digest else f":{tag}" if tag else "")


def _set_images(node, entries: dict[str, dict]) -> None:
    """Every `containers` / `initContainers` image anywhere in `node`, as kustomize does."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    container["image"] = _retag(container["image"], entries)
            _set_images(value, entries)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, entries)


def _generate(generator: dict, files: dict[str, str]) -> dict:
    options = generator.get("options", {})
    _implemented("configMapGenerator", generator)
    _implemented("configMapGenerator options", options)
    if options.get("disableNameSuffixHash") is not True:
        raise ManifestError(
            f"kuberay render does not compute kustomize's name suffix hashes: set "
            f"options.disableNameSuffixHash: true in configMapGenerator {generator['name']}, or use kustomize"
        )
    metadata = {"name": generator["name"]} | (
        {"labels": dict(options["labels"])} if "labels" in options else {}
    )
    data = {Path(name).name: files[name] for name in generator.get("files", [])}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def build(
    kustomization: dict,
    documents: list[dict],
    files: dict[str, str],
    images: list[dict] | None = None,
    namespace: str | None = None,
) -> list[dict]:
    """The base's objects in APPLY_ORDER (pure): generated, namespaced, retagged and labelled.
    `images` entries are merged over the kustomization's entry of the same name."""
    _implemented("kustomization.yaml", kustomization)
    for entry in kustomization.get("labels", []):
        _implemented("labels", entry)
    entries = {e["name"]: dict(e) for e in kustomization.get("images", [])}
    for override in images or []:
        entry = entries.setdefault(override["name"], {})
        if "digest" in override or "newTag" in override:  # the override's tag or digest wins
            entry.pop("digest", None)
            entry.pop("newTag", None)
        entry.update(override)
    namespace = namespace or kustomization.get("namespace")
    objects = copy.deepcopy(documents)
    objects += [_generate(g, files) for g in kustomization.get("configMapGenerator", [])]
    for obj in objects:
        if obj.get("kind") not in APPLY_ORDER:
            raise ManifestError(
                f"the base holds a {obj.get('kind')}; raynomaly manages {', '.join(APPLY_ORDER)}"
            )
        if namespace:
            obj["metadata"]["namespace"] = namespace
            for subject in obj.get("subjects", []):
                if subject.get("kind") == "ServiceAccount":
                    subject["namespace"] = namespace
        for entry in kustomization.get("labels", []):
            obj["metadata"]["labels"] = {**obj["metadata"].get("labels", {}), **entry["pairs"]}
        _set_images(obj, entries)
    return sorted(objects, key=lambda obj: APPLY_ORDER.index(obj["kind"]))


def render(
    image: str | None = None, namespace: str | None = None, gpu_image: str | None = None
) -> list[dict]:
    """The base's objects, with the raynomaly image, the GPU workers' image and the namespace set."""
    images = [{"name": IMAGE} | parse_image(image)] if image else []
    images += [{"name": GPU_IMAGE} | parse_image(gpu_image)] if gpu_image else []
    return build(*load(), images=images, namespace=namespace)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (serveConfigV2, the dashboard) as readable `|` blocks."""


_Dumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    ),
)


def to_yaml(objects: list[dict]) -> str:
    """One multi-document YAML stream (pure)."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, explicit_start=True)


def for_update(desired: dict, live: dict) -> dict:
    """What `apply` writes over `live` (pure): `desired` at the live resourceVersion. A RayService
    the controller manages keeps its live serveConfigV2 and desired-state annotation (which always
    go together), so applying the base never undoes a rollout."""
    update = copy.deepcopy(desired)
    update["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    live_state = (live["metadata"].get("annotations") or {}).get(ANNOTATION)
    if update["kind"] == "RayService" and live_state is not None:
        update["metadata"].setdefault("annotations", {})[ANNOTATION] = live_state
        update["spec"]["serveConfigV2"] = live["spec"]["serveConfigV2"]
    return update


def batch_template(image: str | None = None, namespace: str | None = None) -> dict:
    """The base's batch RayJob (suspended, with an example entrypoint), image and namespace set."""
    return next(obj for obj in render(image, namespace) if obj["metadata"]["name"] == BATCH_JOB)


def batch_job(
    template: dict,
    name: str,
    model_ref: str,
    input: str,
    output: str,
    store: str = "/models",
    options: Sequence[str] = (),
) -> dict:
    """A runnable RayJob `name` that scores `input` into `output` with `model_ref` (`model[:version]`)
    from `store`, built from `template` (pure); `options` are more `batch score` flags (e.g.
    `--concurrency 8`). InvalidSpec for a malformed model reference, ManifestError for a bad name."""
    parse_ref(model_ref)
    if not DNS_LABEL.fullmatch(name):
        raise ManifestError(f"RayJob name {name!r} is not a DNS-1035 label: lowercase letters, digits, '-'")
    job = copy.deepcopy(template)
    kept = {k: v for k, v in job["metadata"].items() if k in ("namespace", "labels", "annotations")}
    job["metadata"] = {"name": name, **kept}
    job["spec"].pop("suspend", None)
    command = [
        "raynomaly",
        "batch",
        "score",
        model_ref,
        "--input",
        input,
        "--output",
        output,
        "--store",
        store,
    ]
    job["spec"]["entrypoint"] = shlex.join([*command, *options])
    return job
