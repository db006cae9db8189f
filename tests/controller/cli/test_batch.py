"""`raynomaly batch score`: targets from one registry, user errors as exit code 2 with one line on
stderr, and one end-to-end run of the installed command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pyarrow import parquet
from typer.testing import CliRunner

from controller.cli import app
from controller.targets.batch import BATCH_TARGETS, batch_target
from models.errors import InvalidSpec
from models.store import ModelStore
from models.training import TrainRequest, train
from tests.tables import write_features


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batch-cli")
    X = np.random.default_rng(0).normal(size=(500, 2))
    write_features(root / "train.csv", X, ["x", "y"])
    train(TrainRequest("m", "iforest", str(root / "train.csv")), ModelStore(str(root / "store")))
    parquet.write_table(pa.table({"key": np.arange(500), "x": X[:, 0], "y": X[:, 1]}), root / "rows.parquet")
    return root


def invoke(files: Path, *args: str):
    common = ["--input", str(files / "rows.parquet"), "--store", str(files / "store")]
    return CliRunner().invoke(app, ["batch", "score", "m", *common, *args], catch_exceptions=False)


def test_an_unknown_target_lists_the_valid_ones(files, tmp_path):
    with pytest.raises(InvalidSpec, match="unknown target 'moon'; choose one of local"):
        batch_target("moon")
    result = invoke(files, "--output", str(tmp_path / "out"), "--target", "moon")
    assert result.exit_code == 2 and "unknown target 'moon'" in result.stderr and result.stdout == ""
    assert "local" in BATCH_TARGETS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--on-bad-rows", "drop"], "on_bad_rows must be one of reject, null", id="bad-rows-mode"
        ),
        pytest.param(["--concurrency", "2", "--num-cpus", "2"], "needs 3 CPUs", id="no-cpu-left-for-io"),
        pytest.param(["--batch-size", "0"], "batch size must be 1 or more", id="batch-size"),
    ],
)
def test_usage_mistakes_exit_2_before_anything_starts(files, tmp_path, args, message):
    result = invoke(files, "--output", str(tmp_path / "out"), *args)
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("flags", "engine"), [([], "process"), (["--engine", "ray"], "ray")], ids=["auto-on-one-machine", "ray"]
)
def test_the_installed_command_scores_a_file_end_to_end(files, tmp_path, flags, engine):
    command = [str(Path(sys.executable).with_name("raynomaly")), "batch", "score", "m:1", *flags]
    command += ["--input", str(files / "rows.parquet"), "--output", str(tmp_path / "scored")]
    command += ["--store", str(files / "store"), "--json"]
    environ = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # no cluster: a private Ray
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environ)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["model"], report["version"], report["rows_in"], report["rows_out"]) == ("m", 1, 500, 500)
    assert report["engine"] == engine and report["bad_rows"] == 0 and report["rows_per_second"] > 0
    assert (report["ray_start_seconds"] > 0) == (engine == "ray")  # one process starts no Ray
    table = parquet.read_table(report["files"][0])
    assert table.column_names == ["key", "x", "y", "score", "label"] and table.num_rows == 500
