"""`raynomaly models ...`: train, list, show, score and sign model versions (local, no Ray), manage
the keys that sign them (`models keys`), and delete them through the control API, which refuses
versions in use and audits the deletion.

With `--json`, stdout holds only the JSON document; progress and errors go to stderr.
"""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from controller.cli import keys
from controller.cli.errors import reports_errors
from controller.cli.options import (
    JsonOption,
    NamespaceOption,
    RayServiceOption,
    StoreOption,
    TargetOption,
    emit,
    err,
    out,
)
from models.errors import InvalidInput, InvalidSpec, ModelError
from models.settings import ModelSettings
from models.store import ModelStore, parse_ref

app = typer.Typer(no_args_is_help=True, help="Train, compile, inspect, score and sign model versions.")
app.add_typer(keys.app, name="keys")


def _store(store: str | None) -> ModelStore:
    settings = ModelSettings.resolve(store)
    return ModelStore(settings.store, keys=settings.keys)


def parse_params(items: list[str]) -> dict:
    """`key=value` strings -> parameters; values are JSON (numbers, true/false/null) or text."""
    words = {"True": True, "False": False, "None": None}
    params = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidSpec(f"--param {item!r}: use key=value, e.g. --param n_estimators=200")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = words.get(raw, raw)
        params[key.strip()] = value
    return params


@app.command("train")
@reports_errors
def train_command(
    name: Annotated[str, typer.Option("--name", help="Model name (lowercase letters, digits, hyphens).")],
    detector: Annotated[
        str, typer.Option("--detector", help="iforest, ecod, copod, hbos, knn, lof, pca or ocsvm.")
    ],
    data: Annotated[
        str, typer.Option("--data", help="Training data, .csv or .parquet; every column a feature.")
    ],
    contamination: Annotated[float, typer.Option(help="Expected share of anomalies, in (0, 0.5].")] = 0.1,
    param: Annotated[
        list[str], typer.Option("--param", help="Detector parameter key=value (repeatable).")
    ] = [],  # noqa: B006
    backend: Annotated[str, typer.Option(help="auto, onnx or numba.")] = "auto",
    store: StoreOption = None,
    as_json: JsonOption = False,
):
    """Train a detector, compile it, prove parity with the reference, and publish a new version."""
    from models.training import TrainRequest, train

    request = TrainRequest(name, detector, data, contamination, parse_params(param), backend)
    with err.status("training") as status:
        manifest = train(request, _store(store), progress=lambda step: status.update(step))
    parity = manifest.parity
    if as_json:
        emit(
            {
                "name": manifest.model,
                "version": manifest.version,
                "backend": manifest.backend,
                "parity": parity.model_dump(mode="json"),
            }
        )
        return
    err.print(
        f"parity on {parity.rows:,} held-out rows ({parity.mode}): max relative diff "
        f"{parity.max_relative_diff:.2g}, Spearman {parity.spearman:.6f}, {parity.label_flips} label flips"
    )
    out.print(f"published [bold]{manifest.ref}[/] ({manifest.detector}, {manifest.backend})")


@app.command("list")
@reports_errors
def list_command(store: StoreOption = None, as_json: JsonOption = False):
    """List models with their versions and latest version."""
    model_store = _store(store)
    rows = []
    for name in model_store.models():
        versions = model_store.versions(name)
        try:
            latest = model_store.manifest(name)
            row = {
                "name": name,
                "versions": versions,
                "latest": latest.version,
                "detector": latest.detector,
                "backend": latest.backend,
                "n_features": latest.n_features,
                "created_at": latest.created_at.isoformat(),
                "status": "ok",
            }
        except ModelError as e:
            row = {"name": name, "versions": versions, "latest": versions[-1], "status": f"refused: {e}"}
        rows.append(row)
    if as_json:
        emit(rows)
        return
    table = Table("model", "versions", "latest", "detector", "backend", "features", "created", "status")
    for r in rows:
        table.add_row(
            r["name"],
            str(len(r["versions"])),
            str(r["latest"]),
            r.get("detector", "-"),
            r.get("backend", "-"),
            str(r.get("n_features", "-")),
            r.get("created_at", "-")[:19],
            r["status"],
        )
    out.print(table if rows else f"no models in {model_store.uri}")


@app.command("show")
@reports_errors
def show_command(
    ref: Annotated[str, typer.Argument(help="NAME or NAME:VERSION")],
    store: StoreOption = None,
    as_json: JsonOption = False,
):
    """Show the manifest of a version (default: the latest), verified."""
    name, version = parse_ref(ref)
    manifest, _ = _store(store).read(name, version)
    if as_json:
        emit(manifest.model_dump(mode="json"))
        return
    p, ref_dist = manifest.parity, manifest.reference
    table = Table(show_header=False, title=f"{manifest.ref}")
    for key, value in [
        ("detector / backend", f"{manifest.detector} / {manifest.backend} ({manifest.artifact})"),
        ("parameters", json.dumps(manifest.params) or "{}"),
        ("contamination / threshold", f"{manifest.contamination} / {manifest.threshold:.6g}"),
        ("features", f"{manifest.n_features}: {', '.join(manifest.feature_names)}"),
        (
            "training",
            f"{manifest.training.source} ({manifest.training.fit_rows:,} fit, "
            f"{manifest.training.holdout_rows:,} held out)",
        ),
        (
            "parity",
            f"{'passed' if p.passed else 'FAILED'}: max rel diff {p.max_relative_diff:.2g}, "
            f"Spearman {p.spearman:.6f}, {p.label_flips} flips on {p.rows:,} rows ({p.mode})",
        ),
        (
            "reference scores",
            f"median {ref_dist.quantiles[50]:.4g}, p99 {ref_dist.quantiles[99]:.4g}, "
            f"anomaly rate {ref_dist.anomaly_rate:.2%}",
        ),
        ("created", manifest.created_at.isoformat()),
        ("checksum", manifest.checksum),
        ("signed by key", manifest.signature.key if manifest.signature else "-"),
        ("encrypted", ", ".join(f"{n} (key {k})" for n, k in manifest.encrypted.items()) or "no"),
    ]:
        table.add_row(key, value)
    out.print(table)


@app.command("sign")
@reports_errors
def sign_command(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION")],
    store: StoreOption = None,
    as_json: JsonOption = False,
):
    """Vouch for a version published before versions were signed (or signed by a retired key):
    check its seal and every file's sha256, then sign it with the current signing key. Check where
    the version came from first: signing it says that its threshold and files are what you expect."""
    name, version = parse_ref(ref)
    if version is None:
        raise InvalidSpec(f"sign {ref!r}: name the version to vouch for, e.g. {name}:1")
    before, after = _store(store).sign(name, version)
    was = f"signed by key {before.signature.key}" if before.signature else "unsigned"
    if as_json:
        emit({"model": after.model, "version": after.version, "key": after.signature.key, "was": was,
              "threshold": after.threshold, "checksum": after.checksum, "files": after.files})  # fmt: skip
        return
    out.print(f"signed [bold]{after.ref}[/] with key {after.signature.key} (it was {was}), vouching for:")
    table = Table(show_header=False)
    table.add_row("detector / backend", f"{after.detector} / {after.backend}")
    table.add_row("threshold", f"{after.threshold:.6g}")
    table.add_row("created", after.created_at.isoformat())
    table.add_row("manifest sha256", after.checksum)
    for file_name, digest in after.files.items():
        table.add_row(file_name, f"sha256 {digest}")
    out.print(table)


@app.command("score")
@reports_errors
def score_command(
    ref: Annotated[str, typer.Argument(help="NAME or NAME:VERSION")],
    data: Annotated[
        str, typer.Option("--data", help="Rows to score, .csv or .parquet, with the feature columns.")
    ],
    output: Annotated[
        Path | None, typer.Option(help="Write the input plus score and label (.csv or .parquet).")
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
):
    """Score a file locally with a compiled version (no Ray needed)."""
    import pyarrow as pa

    from models.data import feature_matrix, read_table, write_table
    from models.labels import anomaly_labels
    from models.scorer import from_artifact

    name, version = parse_ref(ref)
    manifest, files = _store(store).read(name, version)
    table = read_table(data)
    clash = [c for c in ("score", "label") if c in table.column_names]
    if clash and output is not None:
        raise InvalidInput(f"{data}: already has column(s) {', '.join(clash)}; rename them before scoring")
    X, _ = feature_matrix(table, manifest.feature_names)
    model = from_artifact(manifest, files, warm=False)
    scores = model.decision_function(X)
    labels = anomaly_labels(scores, model.threshold_)
    summary = {
        "model": manifest.model,
        "version": manifest.version,
        "rows": int(len(scores)),
        "anomalies": int(labels.sum()),
        "threshold": manifest.threshold,
    }
    if output is not None:
        write_table(
            table.append_column("score", pa.array(scores)).append_column("label", pa.array(labels)), output
        )
        summary["output"] = str(output)
    if as_json:
        emit(
            summary
            if output is not None
            else {**summary, "scores": scores.tolist(), "labels": labels.tolist()}
        )
        return
    if output is None:
        shown = Table("row", "score", "label")
        for i in range(min(len(scores), 20)):
            shown.add_row(str(i + 1), f"{scores[i]:.6g}", "anomaly" if labels[i] else "normal")
        out.print(shown)
        if len(scores) > 20:
            out.print(f"... {len(scores) - 20:,} more rows; use --output to write them all")
    out.print(
        f"{manifest.ref}: {summary['anomalies']:,} of {summary['rows']:,} rows above threshold "
        f"{manifest.threshold:.6g}" + (f"; written to {output}" if output else "")
    )


@app.command("delete")
@reports_errors
def delete_command(
    ref: Annotated[str, typer.Argument(help="NAME (every version) or NAME:VERSION")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    target: TargetOption = "local",
    namespace: NamespaceOption = None,
    rayservice: RayServiceOption = None,
    as_json: JsonOption = False,
):
    """Delete a version (or every version) through the controller, which refuses one that serves
    or takes part in an active rollout, and records who deleted it."""
    from controller.client import connect
    from controller.settings import ControllerSettings

    name, version = parse_ref(ref)
    what = f"{name} version {version}" if version is not None else f"every version of {name}"
    if not yes and not typer.confirm(f"delete {what}?", err=True):
        err.print("nothing deleted")
        raise typer.Exit(1)
    path = f"/api/v1/models/{name}" + (f"/versions/{version}" if version is not None else "")
    answer = connect(ControllerSettings.resolve()).delete(
        path, target=target, namespace=namespace, rayservice=rayservice
    )
    if as_json:
        emit(answer)
        return
    deleted = ", ".join(map(str, answer["deleted"]))
    left = ", ".join(map(str, answer["remaining"])) or "none; the model is gone"
    out.print(f"deleted {name} version(s) {deleted}; remaining: {left}")
