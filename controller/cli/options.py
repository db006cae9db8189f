"""What the commands share: the consoles, the common options, and printing one JSON document."""

import json
from typing import Annotated

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="Model store folder or URI [env RAYNOMALY_STORE; default ./.raynomaly/models]"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def emit(document) -> None:
    """Print `document` as the only JSON on stdout (progress and errors go to stderr)."""
    print(json.dumps(document, indent=2, default=str))


TargetOption = Annotated[str, typer.Option("--target", help="local, or kuberay (a RayService).")]
NamespaceOption = Annotated[str | None, typer.Option(help="kuberay: the RayService's namespace.")]
RayServiceOption = Annotated[str | None, typer.Option(help="kuberay: the RayService's name.")]
