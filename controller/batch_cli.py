"""`raynomaly batch score`: score files with a model version, on a registered target.

A target decides where the job's driver runs: `local` runs it in this process, which scores the
rows itself or on Ray Data (`--engine auto` picks: Ray Data on the cluster at `RAY_ADDRESS`, as in a
RayJob's driver; else one process, faster on one machine). The environment is read here, at the
edge, and nowhere in the job itself.
"""

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Protocol

import typer
from rich.console import Console

from controller.kuberay.errors import KubeError
from models.cli import StoreOption, reports_errors
from models.errors import InvalidSpec
from models.settings import ModelSettings
from models.store import parse_ref
from runtime.batch import BatchFailed, BatchReport, BatchRequest, run_batch
from runtime.conflict import Conflict

app = typer.Typer(
    no_args_is_help=True, help="Score files with a model version, in one process or on Ray Data."
)
out = Console()
err = Console(stderr=True)


class Finished(Protocol):
    """What a target reports once a job ended."""

    def to_dict(self) -> dict:
        """The outcome as one JSON document."""


class BatchTarget(Protocol):
    """Where a batch job runs."""

    def score(self, request: BatchRequest, *, progress: bool) -> Finished:
        """Run the job to completion and report it."""


@dataclass(frozen=True)
class Placement:
    """Where to run, parsed at the edge: the KubeRay namespace and credentials (unused locally)."""

    namespace: str = "raynomaly"
    kubeconfig: str | None = None
    context: str | None = None
    image: str | None = None
    timeout_s: float = 3600.0


class LocalTarget:
    """The job's driver is this process."""

    def __init__(self, placement: Placement):
        pass

    def score(self, request: BatchRequest, *, progress: bool) -> BatchReport:
        """Run the job here (in this process or on Ray Data)."""
        return run_batch(request, progress=progress)


@dataclass(frozen=True)
class JobOutcome:
    """A RayJob that ended (its driver ran `batch score --target local` inside the cluster)."""

    rayjob: str
    namespace: str
    state: str
    output: str

    def to_dict(self) -> dict:
        return asdict(self)


class KubeRayTarget:
    """The job runs as a RayJob built from the base's template, followed until it ends."""

    def __init__(self, placement: Placement):
        self._placement = placement

    def score(self, request: BatchRequest, *, progress: bool) -> JobOutcome:
        from controller.kuberay import jobs, manifests
        from controller.kuberay.api import KubeApi

        where = self._placement
        ref = request.model if request.version is None else f"{request.model}:{request.version}"
        flags = ["--batch-size", str(request.batch_size), "--concurrency", str(request.concurrency),
                 "--on-bad-rows", request.on_bad_rows,
                 "--rows-per-file", str(request.rows_per_file), "--engine", request.engine]  # fmt: skip
        name = f"raynomaly-batch-{uuid.uuid4().hex[:8]}"
        template = manifests.batch_template(where.image, where.namespace)
        job = manifests.batch_job(template, name, ref, request.input, request.output, request.store, flags)
        api = KubeApi.connect(where.kubeconfig, where.context)
        say = (lambda text: err.print(text, highlight=False)) if progress else (lambda text: None)
        final = jobs.run(api, job, say, where.timeout_s)
        return JobOutcome(name, where.namespace, jobs.state(final)[0], request.output)


TARGETS: dict[str, Callable[[Placement], BatchTarget]] = {"local": LocalTarget, "kuberay": KubeRayTarget}


def target_named(name: str, placement: Placement | None = None) -> BatchTarget:
    """The target registered under `name`; InvalidSpec listing the choices otherwise."""
    try:
        return TARGETS[name](placement or Placement())
    except KeyError:
        raise InvalidSpec(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}") from None


@app.command("score")
@reports_errors(codes={BatchFailed: 1, KubeError: 1, Conflict: 1, TimeoutError: 1})
def score_command(
    ref: Annotated[str, typer.Argument(help="NAME or NAME:VERSION (default: the latest version).")],
    input: Annotated[
        str, typer.Option("--input", help="A .parquet or .csv file, or a folder of them (path or URI).")
    ],
    output: Annotated[
        str, typer.Option("--output", help="Folder to create with the scored Parquet files (path or URI).")
    ],
    store: StoreOption = None,
    batch_size: Annotated[int, typer.Option(help="Rows per scoring call.")] = 100_000,
    concurrency: Annotated[int, typer.Option(help="Scorer actors, one CPU each.")] = 1,
    on_bad_rows: Annotated[
        str, typer.Option(help="reject: fail naming them; null: score them as null with an error column.")
    ] = "reject",
    rows_per_file: Annotated[int, typer.Option(help="Rows gathered into each output file.")] = 1_000_000,
    num_cpus: Annotated[
        int | None, typer.Option(help="CPUs of a private local Ray (default: concurrency + 1).")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="auto (Ray Data on a cluster, else here), process (here) or ray (Ray Data).")
    ] = "auto",
    target: Annotated[str, typer.Option(help=f"Where the job runs: {', '.join(TARGETS)}.")] = "local",
    namespace: Annotated[str, typer.Option(help="kuberay: the RayJob's namespace.")] = "raynomaly",
    kubeconfig: Annotated[
        str | None, typer.Option(help="kuberay: kubeconfig file (default: KUBECONFIG).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="kuberay: kubeconfig context.")] = None,
    image: Annotated[str | None, typer.Option(help="kuberay: the job's image (default: the base's).")] = None,
    timeout: Annotated[float, typer.Option(help="kuberay: seconds to follow the RayJob.")] = 3600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
):
    """Score every row of a file or folder with a model version, writing Parquet.

    On kuberay the job runs as a RayJob (paths and --store as the cluster sees them, default
    /models) and this command follows it to its end."""
    name, version = parse_ref(ref)
    runner = target_named(target, Placement(namespace, kubeconfig, context, image, timeout))
    if target == "kuberay" and store is None:
        store = "/models"  # the base mounts the model store there
    request = BatchRequest(
        model=name,
        version=version,
        input=input,
        output=output,
        store=ModelSettings.resolve(store).store,
        batch_size=batch_size,
        concurrency=concurrency,
        on_bad_rows=on_bad_rows,
        address=os.environ.get("RAY_ADDRESS") or None,
        num_cpus=num_cpus,
        rows_per_file=rows_per_file,
        engine=engine,
    )
    report = runner.score(request, progress=not as_json)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    if isinstance(report, JobOutcome):
        out.print(f"RayJob {report.namespace}/{report.rayjob}: {report.state}; written to {report.output}")
        return
    bad = f", {report.bad_rows:,} bad rows scored as null" if report.bad_rows else ""
    files = f"{len(report.files)} file{'s' if len(report.files) != 1 else ''}"
    where = (
        "one process"
        if report.engine == "process"
        else f"Ray Data, Ray start {report.ray_start_seconds:.1f} s"
    )
    out.print(
        f"{report.model}:{report.version}: {report.rows_in:,} rows in, {report.rows_out:,} out{bad}; "
        f"{report.rows_per_second:,.0f} rows/s ({report.seconds:.1f} s, {where}); "
        f"written to {report.output} ({files})",
        highlight=False,
    )
