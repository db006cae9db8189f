"""`raynomaly kuberay render|apply`: the kustomize base in `kuberay/`, printed as one YAML stream or
applied through the Kubernetes API (create, or replace at the live resourceVersion), object by object.
"""

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from controller.cli.errors import reports_errors
from controller.kuberay import manifests
from controller.kuberay.errors import Invalid, KubeError, NotFound
from runtime.conflict import Conflict

if TYPE_CHECKING:
    from controller.kuberay.api import KubeApi

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_KUBERAY = "the KubeRay operator v1.7 (its ray.io CRDs)"
_PROMETHEUS_OPERATOR = (
    "the Prometheus operator (its monitoring.coreos.com CRDs, e.g. with kube-prometheus-stack)"
)
PROVIDERS = {
    "RayService": _KUBERAY,
    "RayJob": _KUBERAY,
    "RayCluster": _KUBERAY,
    "PodMonitor": _PROMETHEUS_OPERATOR,
    "PrometheusRule": _PROMETHEUS_OPERATOR,
}
"""What to install when the API server does not serve a kind."""

ImageOption = Annotated[
    str | None,
    typer.Option(help="The raynomaly image, REGISTRY/NAME[:TAG|@DIGEST] (without a tag the base's stays)."),
]
GpuImageOption = Annotated[str | None, typer.Option(help="The GPU workers' image (the CUDA build).")]
NamespaceOption = Annotated[str | None, typer.Option(help="Namespace of every object (default: the base's).")]

app = typer.Typer(
    no_args_is_help=True, help="The KubeRay manifests (kustomize base in kuberay/): render or apply."
)


@app.command("render")
@reports_errors
def render(image: ImageOption = None, namespace: NamespaceOption = None, gpu_image: GpuImageOption = None):
    """Print the base's objects as one multi-document YAML stream (for kubectl apply -f -)."""
    print(manifests.to_yaml(manifests.render(image, namespace, gpu_image)), end="")


NOT_SERVED = "the server could not find the requested resource"
"""Kubernetes' words for a resource type it does not serve (a CRD not installed)."""
FAILURES = {NotFound: "missing", Conflict: "conflict", Invalid: "invalid"}


def _apply(api: "KubeApi", obj: dict, dry_run: bool) -> str:
    """Create `obj` or replace the live one; what happened, in a word or two. NotFound when the
    cluster does not serve its kind or lacks its namespace."""
    kind, namespace, name = obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]
    try:
        live = api.get(kind, namespace, name)
    except NotFound as e:
        if NOT_SERVED in str(e):
            raise
        if dry_run:
            return "would create"
        api.create(obj)
        return "created"
    if dry_run:
        return "would update"
    written = api.replace(manifests.for_update(obj, live))
    same = written["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    return "unchanged" if same else "updated"


def _failure(error: KubeError | Conflict, obj: dict) -> str:
    """Why `obj` was not applied, and what to do."""
    if isinstance(error, NotFound):
        provider = PROVIDERS.get(obj["kind"], f"the API group {obj['apiVersion']}")
        return f"the cluster does not serve {obj['kind']}: install {provider}"
    if isinstance(error, Conflict):
        return f"{error}; it changed while being applied: apply again"
    return str(error)


@app.command("apply")
@reports_errors
def apply(
    image: ImageOption = None,
    namespace: NamespaceOption = None,
    gpu_image: GpuImageOption = None,
    kubeconfig: Annotated[
        str | None, typer.Option(help="kubeconfig file (default: KUBECONFIG, ~/.kube/config).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read only: say what would be written.")] = False,
):
    """Create or replace every object of the base, in order, one line each.

    A live RayService keeps its serveConfigV2 and desired-state annotation: apply never undoes a rollout.

    A kind the cluster lacks (PodMonitor, PrometheusRule without the Prometheus operator) is named with
    what to install.

    The rest is still applied, and the exit code is then 1.
    """
    objects = manifests.render(image, namespace, gpu_image)
    from controller.kuberay.api import KubeApi  # the client loads only for apply

    api = KubeApi.connect(kubeconfig, context)
    failed = 0
    for obj in objects:
        namespace = obj["metadata"]["namespace"]
        what = f"{obj['kind']} {namespace}/{obj['metadata']['name']}"
        try:
            out.print(f"{_apply(api, obj, dry_run):<13} {what}")
        except tuple(FAILURES) as e:
            if isinstance(e, NotFound) and f'namespaces "{namespace}" not found' in str(e):
                raise KubeError(
                    f"namespace {namespace} does not exist: kubectl create namespace {namespace}"
                ) from e
            failed += 1
            word = next(word for kind, word in FAILURES.items() if isinstance(e, kind))
            err.print(f"[bold red]{word:<13}[/] {what}: {_failure(e, obj)}")
    if failed:
        err.print(f"{failed} of {len(objects)} objects were not applied")
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Add `kuberay render|apply` to the root `raynomaly` command."""
    root.add_typer(app, name="kuberay")
