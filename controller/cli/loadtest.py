"""`raynomaly loadtest`: steady Locust traffic to a served model, routed like any caller's, so a
rollout has requests to judge (and a person can watch it happen)."""

import json
import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from controller.analysis.loadtest import LoadTest, parse_duration
from controller.cli.errors import reports_errors
from controller.cli.options import JsonOption, out
from controller.settings import ControllerSettings
from models.store import ModelStore
from runtime.record import read_running

if TYPE_CHECKING:
    from controller.loadtest.gate import LocustStats

PER_USER_RPS = 5.0
"""Each Locust user sends at most this many requests per second (it waits for each answer)."""


@reports_errors
def loadtest(
    model: Annotated[str, typer.Argument(help="Model to send requests to.")],
    rps: Annotated[float, typer.Option(help="Requests per second, held steady.")] = 50.0,
    duration: Annotated[str, typer.Option(help="How long, e.g. 90s or 3m (at most 10m).")] = "1m",
    data: Annotated[
        Path | None, typer.Option(help="CSV or Parquet whose rows are sent (default: standard-normal rows).")
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="Pin this version (default: the traffic table routes).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Gateway URL (default: the local runtime's).")] = None,
    as_json: JsonOption = False,
):
    """Send single-row predictions at a steady rate with Locust; prints what came back."""
    from controller.loadtest.gate import LocustGate  # Locust (gevent) loads only for this command
    from models.data import feature_matrix, read_table

    settings = ControllerSettings.resolve()
    running = read_running(settings.runtime)
    url = url or settings.gateway_url or (running[0].http_url if running else None)
    if url is None:
        raise ValueError("no local runtime is running (start one with 'raynomaly up') and no --url given")
    manifest = ModelStore(running[1].store if running else settings.runtime.store).manifest(model, version)
    rows = None
    if data is not None:
        rows, _ = feature_matrix(read_table(data), manifest.feature_names)
    test = LoadTest(users=max(1, math.ceil(rps / PER_USER_RPS)), duration_s=parse_duration(duration), rps=rps)
    gate = LocustGate(url, lambda m, v: manifest.n_features, key=settings.inference_key)
    run = lambda: gate.run(test, model, version, manifest.n_features, rows)  # noqa: E731
    stats = run() if as_json else _with_progress(test, run)
    if as_json:
        figures = {"requests": stats.requests, "failed": stats.failures, "p99_ms": stats.p99_ms}
        print(
            json.dumps(
                {"model": model, **figures, "rps": stats.requests / test.duration_s, "errors": stats.errors}
            )
        )
    else:
        _summary(model, test, stats)


def _with_progress(test: LoadTest, run) -> "LocustStats":
    """Run `run` in a thread behind a progress bar that follows the load test's clock."""
    done: dict = {}

    def target() -> None:
        try:
            done["stats"] = run()
        except Exception as e:  # re-raised in the caller's thread
            done["error"] = e

    worker = threading.Thread(target=target, name="locust", daemon=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task(
            f"{test.rps:g} requests/s with {test.users} Locust users", total=test.duration_s
        )
        started = time.monotonic()
        worker.start()
        while worker.is_alive():
            progress.update(task, completed=min(time.monotonic() - started, test.duration_s))
            worker.join(0.25)
    if "error" in done:
        raise done["error"]
    return done["stats"]


def _summary(model: str, test: LoadTest, stats: "LocustStats") -> None:
    table = Table("requests", "failed", "requests/s", "p99 ms (Locust)", title=f"load test of {model}")
    table.add_row(
        str(stats.requests),
        str(stats.failures),
        f"{stats.requests / test.duration_s:.1f}",
        f"{stats.p99_ms:g}",
    )
    out.print(table)
    for error, count in stats.errors.items():
        out.print(f"  {count} x {error}")


def register(app: typer.Typer) -> None:
    app.command("loadtest")(loadtest)
