"""`raynomaly monitor MODEL`: how the inputs and scores of every version serving a model drift from
its training data over a window of live traffic.

The window is read from the metric source the controller uses (Prometheus when configured, else a
direct scrape of the runtime's metrics): two snapshots `--window` apart, the same increase the
rollout analysis judges. Each version's feature names and bins come from the model store, read
only. The figures are `controller.monitor.report`'s (pure); this module does the I/O and prints.
"""

import time
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table

from controller.analysis.loadtest import parse_duration
from controller.cli.errors import reports_errors
from controller.cli.options import JsonOption, emit, err, out
from controller.monitor import DEFAULT_THRESHOLD, report


@reports_errors
def monitor(
    model: Annotated[str, typer.Argument(help="Model name.")],
    window: Annotated[str, typer.Option(help="Window of live traffic, e.g. 30s or 5m.")] = "5m",
    threshold: Annotated[
        float, typer.Option(help="Flag a feature whose PSI against its training data is above this.")
    ] = DEFAULT_THRESHOLD,
    as_json: JsonOption = False,
):
    """Per version serving MODEL: each feature's drift from its training data (PSI, KS), its
    data-quality issues, and the score drift, over a window of live traffic."""
    from controller.analysis.window import increase, summarise
    from controller.service import metric_source
    from controller.settings import ControllerSettings
    from models.drift import bin_counts
    from models.store import ModelStore, check_name
    from runtime.record import read_running

    check_name(model)
    seconds = parse_duration(window)
    if threshold <= 0:
        raise ValueError(f"--threshold {threshold:g}: give a PSI above 0, e.g. 0.2")
    settings = ControllerSettings.resolve()
    running = read_running(settings.runtime)
    source = metric_source(settings, running[0] if running else None)
    store = ModelStore(running[1].store if running else settings.runtime.store)
    with err.status(f"reading {model}'s traffic for {window} from {source.name}"):
        base = source.snapshot(model)
        time.sleep(seconds)
        windows = summarise(increase(base, source.snapshot(model)))
    bins = {}
    for version in windows:
        manifest = store.manifest(model, version)
        bins[version] = bin_counts(manifest.feature_names, manifest.feature_bins)
    document = report(model, seconds, windows, bins, threshold)
    if as_json:
        emit(document)
    else:
        out.print(render(document))


def render(document: dict) -> Group:
    """The monitor's document as one table per version: features as rows, drifted ones flagged."""
    if not document["versions"]:
        return Group(f"no rows scored for {document['model']} in the last {document['window_s']:g} s")
    tables = []
    for v in document["versions"]:
        score = f"score PSI {_number(v['score_psi'])}, KS {_number(v['score_ks'])}"
        title = f"{document['model']} v{v['version']}: {v['rows']:.0f} rows, {score}"
        table = Table("feature", "rows", "PSI", "KS", "issues", "", title=title)
        for f in v["features"] or ():
            issues = ", ".join(f"{name} {rows:.0f}" for name, rows in f["issues"].items()) or "-"
            flag = f"[red]drifted (> {document['threshold']:g})[/]" if f["drifted"] else ""
            table.add_row(f["feature"], f"{f['rows']:.0f}", _number(f["psi"]), _number(f["ks"]), issues, flag)
        if v["features"] is None:
            table.caption = "published without feature bins: retrain it to compare its inputs"
        tables.append(table)
    return Group(*tables)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    """Add `monitor` to the root `raynomaly` command."""
    app.command("monitor")(monitor)
