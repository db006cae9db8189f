"""`raynomaly models ...`: JSON on stdout only, clear errors with exit code 2, nothing half-published."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pyarrow import csv, parquet
from typer.testing import CliRunner

import models
from controller.cli import app
from tests.tables import write_features

runner = CliRunner()
FEATURES = ["a", "b", "c"]


def invoke(command: str, *args: str):
    """Run `raynomaly COMMAND ARGS...`: `command` is split on spaces, `args` are taken whole."""
    return runner.invoke(app, [*command.split(), *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    X = np.random.default_rng(0).normal(size=(400, 3))
    write_features(root / "train.csv", X, FEATURES)
    batch = {"id": [f"r{i}" for i in range(50)], **{f: X[:50, j] for j, f in enumerate(FEATURES)}}
    parquet.write_table(pa.table(batch), root / "batch.parquet")
    (root / "nan.csv").write_text("a,b,c\n" + "1,2,3\n" * 30 + "1,nan,3\n")
    (root / "text.csv").write_text("a,b,c\n" + "1,2,x\n" * 30)
    (root / "empty.csv").write_text("a,b,c\n")
    (root / "narrow.csv").write_text("a,b\n1,2\n")
    return root


@pytest.fixture(scope="module")
def store(files):
    store = str(files / "models")
    for detector in ("iforest", "hbos"):
        data = ("--data", str(files / "train.csv"), "--store", store)
        result = invoke(f"models train --name fraud --detector {detector} --json", *data)
        assert result.exit_code == 0, result.stderr
    return store


def test_train_json_is_the_only_thing_on_stdout(files, store):
    data = ("--data", str(files / "train.csv"), "--store", store)
    refused = invoke("models train --name other --detector ecod --param n_jobs=1 --json", *data)
    assert refused.exit_code == 2 and refused.stdout == ""  # ecod takes no parameters
    knn = "--detector knn --param n_neighbors=7 --param method=mean --contamination 0.05"
    result = invoke(f"models train --name other {knn} --json", *data)
    document = json.loads(result.stdout)
    assert (document["name"], document["version"], document["backend"]) == ("other", 1, "numba")
    assert document["parity"]["passed"] is True and document["parity"]["rows"] == 80


def test_list_and_show(store):
    listing = json.loads(invoke("models list --json", "--store", store).stdout)
    fraud = next(m for m in listing if m["name"] == "fraud")
    assert fraud["versions"] == [1, 2] and fraud["latest"] == 2 and fraud["detector"] == "hbos"
    shown = json.loads(invoke("models show fraud:1 --json", "--store", store).stdout)
    assert shown["detector"] == "iforest" and shown["feature_names"] == FEATURES and shown["checksum"]
    human = invoke("models show fraud", "--store", store)
    assert "hbos" in human.stdout and "passed" in human.stdout


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_score_writes_every_row_with_passthrough_columns(files, store, tmp_path, suffix):
    output = tmp_path / f"scored.{suffix}"
    data = ("--data", str(files / "batch.parquet"), "--store", store)
    result = invoke("models score fraud:1 --json", *data, "--output", str(output))
    summary = json.loads(result.stdout)
    table = parquet.read_table(output) if suffix == "parquet" else csv.read_csv(output)
    assert summary["rows"] == table.num_rows == 50
    assert table.column_names == ["id", *FEATURES, "score", "label"]
    assert table.column("id").to_pylist()[:2] == ["r0", "r1"]
    assert summary["anomalies"] == sum(table.column("label").to_pylist())


def test_score_json_without_output_carries_scores(files, store):
    result = invoke("models score fraud:1 --json", "--data", str(files / "batch.parquet"), "--store", store)
    document = json.loads(result.stdout)
    X = parquet.read_table(files / "batch.parquet").select(FEATURES).to_pandas().to_numpy()
    np.testing.assert_array_equal(document["scores"], models.load("fraud", 1, store).decision_function(X))
    assert len(document["labels"]) == 50


@pytest.mark.parametrize(
    ("command", "data", "message"),
    [
        pytest.param(
            "train --detector iforest", "nan.csv", "missing value(s) (empty, NaN or NULL)", id="nan"
        ),
        pytest.param("train --detector iforest", "text.csv", "non-numeric column", id="text"),
        pytest.param("train --detector iforest", "empty.csv", "no rows", id="empty"),
        pytest.param("train --detector iforest", "absent.csv", "no such file", id="absent"),
        pytest.param("train --detector forest", "train.csv", "unknown detector", id="detector"),
        pytest.param(
            "train --detector iforest --param depth=3", "train.csv", "unknown parameter", id="parameter"
        ),
        pytest.param(
            "train --detector iforest --param depth", "train.csv", "use key=value", id="parameter-syntax"
        ),
        pytest.param("train --detector iforest --backend gpu", "train.csv", "unknown backend", id="backend"),
        pytest.param("score fraud", "narrow.csv", "missing feature column", id="feature-count"),
        pytest.param("score nobody", "train.csv", "no model named", id="unknown-model"),
        pytest.param("score fraud:9", "train.csv", "has no version 9", id="unknown-version"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_publishes_nothing(files, store, command, data, message):
    before = sorted(p.relative_to(store) for p in Path(store).rglob("*"))
    name = ("--name", "fraud") if command.startswith("train") else ()
    result = invoke(f"models {command} --json", *name, "--data", str(files / data), "--store", store)
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""
    assert sorted(p.relative_to(store) for p in Path(store).rglob("*")) == before


def test_the_installed_command_prints_no_traceback(files, store):
    command = Path(sys.executable).with_name("raynomaly")
    arguments = [
        "models",
        "train",
        "--name",
        "fraud",
        "--detector",
        "iforest",
        "--data",
        str(files / "nan.csv"),
    ]
    result = subprocess.run([str(command), *arguments, "--store", store], capture_output=True, text=True)
    assert result.returncode == 2
    assert "column 'b' has 1 missing value(s) (empty, NaN or NULL), first at row 31" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def publish_pickled_params(store: str) -> int:
    """A version whose params.npz holds a pickled object (checksummed like any other): its number."""
    import io

    from models.store import ModelStore

    model_store = ModelStore(store)
    manifest, _ = model_store.read("fraud", 1)
    buffer = io.BytesIO()
    np.savez(buffer, thresholds=np.array([{"run": "code"}], dtype=object))
    return model_store.publish(
        manifest.model_copy(update={"version": 0}), {"params.npz": buffer.getvalue()}
    ).version


def link_lock(store: str) -> None:
    lock = Path(store) / ".fraud.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(Path(store).parent / "elsewhere")


@pytest.mark.parametrize(
    ("damage", "command", "code", "message"),
    [
        pytest.param(
            None, "show fraud:²", 2, "invalid model reference 'fraud:²'", id="version-not-ascii-digits",
        ),
        pytest.param(
            publish_pickled_params, "score fraud:3 --data {data}", 1,
            "fraud:3: params.npz holds pickled Python objects, which are never loaded", id="pickled-params",
        ),
        pytest.param(
            link_lock, "train --name fraud --detector hbos --data {data}", 1,
            ".fraud.lock is a symbolic link, not the store's lock file", id="lock-is-a-link",
        ),
    ],
)  # fmt: skip
def test_a_damaged_store_exits_with_one_line(files, store, tmp_path, damage, command, code, message):
    copy = str(tmp_path / "models")
    shutil.copytree(store, copy, symlinks=True)
    if damage:
        damage(copy)
    arguments = command.format(data=files / "train.csv").split()
    result = runner.invoke(app, ["models", *arguments, "--store", copy])
    assert result.exit_code == code and isinstance(result.exception, SystemExit)  # not an uncaught error
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_folder_that_is_no_version_number_is_not_listed(store, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(store, copy)
    (copy / "fraud" / "²").mkdir()
    listing = json.loads(invoke("models list --json", "--store", str(copy)).stdout)
    assert next(m for m in listing if m["name"] == "fraud")["versions"] == [1, 2]
