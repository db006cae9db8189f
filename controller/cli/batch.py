"""`raynomaly batch score`: score files with a model version, on a batch target
(`controller/targets/batch.py`). The environment (`RAY_ADDRESS`, as in a RayJob's driver) is read
here, at the edge, and nowhere in the job itself.
"""

import json
import os
from typing import Annotated

import typer

from controller.cli.errors import reports_errors
from controller.cli.options import JsonOption, StoreOption, err, out
from controller.targets.batch import BATCH_TARGETS, JobOutcome, Placement, batch_target
from models.settings import ModelSettings
from models.store import parse_ref

app = typer.Typer(
    no_args_is_help=True, help="Score files with a model version, in one process or on Ray Data."
)


@app.command("score")
@reports_errors
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
    target: Annotated[str, typer.Option(help=f"Where the job runs: {', '.join(BATCH_TARGETS)}.")] = "local",
    namespace: Annotated[str, typer.Option(help="kuberay: the RayJob's namespace.")] = "raynomaly",
    kubeconfig: Annotated[
        str | None, typer.Option(help="kuberay: kubeconfig file (default: KUBECONFIG).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="kuberay: kubeconfig context.")] = None,
    image: Annotated[str | None, typer.Option(help="kuberay: the job's image (default: the base's).")] = None,
    timeout: Annotated[float, typer.Option(help="kuberay: seconds to follow the RayJob.")] = 3600.0,
    as_json: JsonOption = False,
):
    """Score every row of a file or folder with a model version, writing Parquet.

    On kuberay the job runs as a RayJob (paths and --store as the cluster sees them, default
    /models) and this command follows it to its end."""
    from runtime.batch.spec import BatchRequest

    name, version = parse_ref(ref)
    runner = batch_target(target, Placement(namespace, kubeconfig, context, image, timeout))
    if target == "kuberay" and store is None:
        store = "/models"  # the base mounts the model store there
    settings = ModelSettings.resolve(store)
    request = BatchRequest(
        model=name,
        version=version,
        input=input,
        output=output,
        store=settings.store,
        keys=str(settings.keys.absolute()),
        batch_size=batch_size,
        concurrency=concurrency,
        on_bad_rows=on_bad_rows,
        address=os.environ.get("RAY_ADDRESS") or None,
        num_cpus=num_cpus,
        rows_per_file=rows_per_file,
        engine=engine,
    )
    report = runner.score(request, None if as_json else lambda text: err.print(text, highlight=False))
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
