"""Batch scoring, in one process or on Ray Data: the same scores as `raynomaly models score`, in input
order, every row accounted for, bad rows named or kept with their reason, and nothing at the output
path on failure; and which engine a job picks."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pyarrow import csv, parquet
from typer.testing import CliRunner

from controller.cli import app
from models.errors import InvalidInput, InvalidSpec
from models.scorer import load
from models.store import ModelStore
from models.training import TrainRequest, train
from runtime.batch.inputs import format_of, locate_bad_rows, read_inputs, rejected_message
from runtime.batch.job import run_batch
from runtime.batch.outputs import Output, PartWriter, verify
from runtime.batch.ray_data import block_bytes
from runtime.batch.rows import features, scored
from runtime.batch.spec import BatchFailed, BatchRequest, check_capacity, check_row_count, choose_engine
from tests.tables import write_features

FEATURES = ["a", "b", "c"]
ROWS = 5000
BAD_CSV = (
    "a,b,c\n"
    + "1,2,3\n" * 2
    + "1,,3\n"
    + "1,2,3\n" * 3
    + "1,2,x\n"
    + "1,2,3\n" * 4
    + "inf,2,nan\n"
    + "4,5,6\n"
)
BAD = {3: "b: missing", 7: "c: not a number ('x')", 12: "a: not finite (inf)"}  # row (from 1) -> why
BAD_CSV_ROWS = 13


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Training data, a store with one isolation forest `m:1`, and inputs to score."""
    root = tmp_path_factory.mktemp("batch")
    rng = np.random.default_rng(0)
    write_features(root / "train.csv", rng.normal(size=(600, 3)), FEATURES)
    train(
        TrainRequest("m", "iforest", str(root / "train.csv"), params={"random_state": 0}),
        ModelStore(str(root / "store")),
    )
    X = rng.normal(size=(ROWS, 3)) * 2
    table = pa.table({"id": np.arange(ROWS), **{f: X[:, j] for j, f in enumerate(FEATURES)}})
    parquet.write_table(table, root / "batch.parquet", row_group_size=700)
    csv.write_csv(table, root / "batch.csv")
    (root / "parts").mkdir()
    parquet.write_table(table.slice(0, 2000), root / "parts" / "part-0.parquet")
    parquet.write_table(table.slice(2000), root / "parts" / "part-1.parquet")
    (root / "bad.csv").write_text(BAD_CSV)
    (root / "narrow.csv").write_text("a,b\n1,2\n")
    return root


def request(files: Path, source: str, output: Path, **options) -> BatchRequest:
    return BatchRequest("m", 1, str(files / source), str(output), str(files / "store"), **options)


def reference(files: Path, source: str, tmp_path: Path) -> pa.Table:
    """What `raynomaly models score` writes for the same input."""
    out = tmp_path / "reference.parquet"
    args = ["models", "score", "m:1", "--data", str(files / source), "--store", str(files / "store")]
    result = CliRunner().invoke(app, [*args, "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return parquet.read_table(out)


def written(report) -> pa.Table:
    """The output files in name order (`part-<write task>.parquet`), which is the input's order."""
    return pa.concat_tables(parquet.read_table(f) for f in report.files)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".staging-" in p.name]


# Unit: no Ray


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        pytest.param({"a": [1.0, 2.0], "b": [3, 4]}, [None, None], id="numbers-of-any-type-score"),
        pytest.param({"a": [1.0, None], "b": [3, 4]}, [None, "a: missing"], id="null-is-missing"),
        pytest.param(
            {"a": [np.nan, 1.0], "b": [3, 4]}, ["a: not finite (nan)", None], id="nan-is-not-finite"
        ),
        pytest.param(
            {"a": [1.0, -np.inf], "b": [3, 4]}, [None, "a: not finite (-inf)"], id="inf-is-not-finite"
        ),
        pytest.param({"a": [" 1.5", "2e3"], "b": ["1e-3", "+7"]}, [None, None], id="numeric-text-parses"),
        pytest.param(
            {"a": ["1", "x"], "b": ["", None]}, ["b: not a number ('')", "a: not a number ('x')"], id="text"
        ),
        pytest.param(
            {"a": [None, 1.0], "b": ["y", "1"]}, ["a: missing", None], id="first-problem-in-feature-order"
        ),
    ],
)
def test_features_name_why_a_row_cannot_be_scored(columns, expected):
    found = features(pa.table(columns), ["a", "b"])
    assert (found.problems.tolist() if found.problems is not None else [None, None]) == expected
    good = [why is None for why in expected]
    assert np.isfinite(found.matrix[good]).all() and found.matrix.flags.c_contiguous


def test_scored_rows_keep_their_columns_and_get_null_scores_where_unusable(files):
    model = load("m", 1, str(files / "store"))
    batch = pa.table(
        {"id": ["p", "q", "r"], "a": ["1", "x", "2"], "b": [1.0, 2.0, None], "c": [0.0, 0.0, 0.0]}
    )
    table = scored(batch, features(batch, FEATURES), model, with_errors=True, metadata={"k": "v"})
    assert table.column_names == ["id", *FEATURES, "score", "label", "error"]
    assert table.column("a").type == pa.float64() and table.column("a").to_pylist() == [1.0, None, 2.0]
    assert table.column("score").to_pylist()[0] == model.decision_function([[1.0, 1.0, 0.0]])[0]
    assert table.column("score").null_count == table.column("label").null_count == 2
    assert table.column("label").type == pa.int64()
    assert table.column("label").to_pylist()[0] == model.predict([[1.0, 1.0, 0.0]])[0]
    assert table.column("error").to_pylist() == [None, "a: not a number ('x')", "b: missing"]
    assert table.schema.metadata == {b"k": b"v"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"batch_size": 0}, "batch size must be 1 or more", id="batch-size"),
        pytest.param({"rows_per_file": 0}, "rows per file must be 1 or more", id="rows-per-file"),
        pytest.param({"concurrency": 0}, "concurrency must be 1 or more", id="concurrency"),
        pytest.param({"on_bad_rows": "drop"}, "must be one of reject, null", id="bad-rows-mode"),
        pytest.param({"concurrency": 2, "num_cpus": 2}, "needs 3 CPUs", id="no-cpu-left-for-io"),
        pytest.param({"engine": "spark"}, "engine must be one of auto, process, ray", id="engine"),
    ],
)
def test_requests_are_checked_when_made(tmp_path, options, message):
    with pytest.raises(InvalidSpec, match=message):
        BatchRequest("m", None, "in.csv", "out", str(tmp_path), **options)


def test_pure_checks():
    check_capacity(2, 3.0)
    with pytest.raises(
        InvalidSpec, match="concurrency 3 needs 4 CPUs .* the cluster has 2; lower --concurrency"
    ):
        check_capacity(3, 2.0)
    with pytest.raises(BatchFailed, match="read 10 rows but wrote 9"):
        check_row_count(10, 9, "out")
    assert format_of(["x/a.parquet", "b.PARQUET"]) == "parquet"
    with pytest.raises(InvalidInput, match="must all be .parquet or all .csv"):
        format_of(["a.parquet", "b.csv"])
    assert block_bytes(100_000, pa.schema({"a": pa.float64(), "b": pa.int32()})) == 1_200_000
    assert block_bytes(10, pa.schema({"a": pa.string()})) == 16 << 10  # at least 16 KiB
    listed = [("a.csv", 3, "b: missing")]
    assert rejected_message(12, 100, listed).startswith("12 of 100 rows cannot be scored")
    assert "a.csv row 3: b: missing; and 11 more" in rejected_message(12, 100, listed)


@pytest.mark.parametrize(
    ("options", "on_cluster", "engine"),
    [
        pytest.param({}, False, "process", id="one-machine-one-process"),
        pytest.param({"concurrency": 8}, False, "process", id="actors-do-not-beat-threads-on-one-machine"),
        pytest.param({}, True, "ray", id="a-cluster-is-given"),
        pytest.param({"engine": "ray"}, False, "ray", id="asked-for-ray"),
        pytest.param({"engine": "process"}, True, "process", id="asked-for-one-process"),
    ],
)
def test_a_job_runs_where_it_finishes_soonest(tmp_path, options, on_cluster, engine):
    request = BatchRequest("m", None, "in.csv", "out", str(tmp_path), **options)
    assert choose_engine(request, on_cluster) == engine


def test_part_files_hold_rows_per_file_and_start_anew_when_columns_change(tmp_path):
    staging = tmp_path / ".out.staging-1"
    staging.mkdir()
    output = Output(pa.fs.LocalFileSystem(), str(tmp_path / "out"), str(staging))
    with PartWriter(output, rows_per_file=4) as writer:
        for start in range(0, 9, 3):
            writer.write(pa.table({"id": list(range(start, start + 3)), "score": [0.5] * 3}))
        writer.write(
            pa.table({"id": ["x", "y"], "score": [0.5] * 2})
        )  # text ids: a CSV block inferred otherwise
    parts = sorted(staging.iterdir())
    assert [p.name for p in parts] == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert [parquet.read_metadata(p).num_rows for p in parts] == [6, 3, 2]
    assert parquet.read_table(parts[0]).column("id").to_pylist() == list(range(6))


def test_the_scoring_path_imports_neither_scipy_stats_nor_ray_data():
    import subprocess
    import sys

    # what a scorer actor imports: SciPy's stats took 0.46 s of every actor's start
    loaded = "[m for m in ('scipy.stats', 'ray.data') if m in sys.modules]"
    probe = f"import sys, runtime.batch.scorer; print({loaded})"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert found.strip() == "[]"


def test_bad_rows_are_located_by_file_and_row(files):
    inputs = read_inputs(str(files / "bad.csv"), FEATURES)
    assert (inputs.format, inputs.rows) == ("csv", BAD_CSV_ROWS)
    count, listed = locate_bad_rows(inputs, FEATURES)
    assert count == 3 and listed == [("bad.csv", row, why) for row, why in BAD.items()]


def test_whole_job_errors_come_before_any_work(files, tmp_path):
    with pytest.raises(InvalidInput, match=r"narrow.csv: missing feature column\(s\) c; the model expects"):
        run_batch(request(files, "narrow.csv", tmp_path / "out"))
    (tmp_path / "taken").mkdir()
    with pytest.raises(InvalidInput, match="already exists; choose a new output path"):
        run_batch(request(files, "batch.parquet", tmp_path / "taken"))
    with pytest.raises(InvalidInput, match="no such file or folder"):
        run_batch(request(files, "missing.parquet", tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_verify_refuses_files_without_the_model_metadata(tmp_path):
    staging = tmp_path / ".out.staging-1"
    staging.mkdir()
    parquet.write_table(pa.table({"score": [1.0, None]}), staging / "a.parquet")
    output = Output(pa.fs.LocalFileSystem(), str(tmp_path / "out"), str(staging))
    with pytest.raises(BatchFailed, match="a.parquet: metadata"):
        verify(output, {"raynomaly.model": "m"}, count_errors=False)
    table = pa.table({"score": [1.0, None, 2.0]}).replace_schema_metadata({"raynomaly.model": "m"})
    parquet.write_table(table, staging / "a.parquet")
    found = verify(output, {"raynomaly.model": "m"}, count_errors=True)
    assert (found.rows, found.bad_rows, found.files) == (3, 1, [f"{tmp_path}/out/a.parquet"])


# Integration: both engines, Ray Data on one Ray for the module


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(params=["process", pytest.param("ray", marks=pytest.mark.integration)])
def engine(request) -> str:
    """Each contract test runs on both engines."""
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return request.param


def test_parquet_is_scored_as_models_score_does_in_input_order(engine, files, tmp_path):
    options = {"batch_size": 500, "concurrency": 2, "rows_per_file": 1200, "engine": engine}
    report = run_batch(request(files, "batch.parquet", tmp_path / "out", **options), progress=False)
    table, expected = written(report), reference(files, "batch.parquet", tmp_path)
    assert report.engine == engine
    assert report.rows_in == report.rows_out == table.num_rows == ROWS and report.bad_rows == 0
    assert len(report.files) > 1 and all(f.endswith(".parquet") for f in report.files)
    assert table.column("id").to_pylist() == list(range(ROWS))  # row i of the output is row i of the input
    assert table.column_names == ["id", *FEATURES, "score", "label"]
    assert table.column("score").type == pa.float64() and table.column("label").type == pa.int64()
    assert table.column("score").equals(expected.column("score"))
    assert table.column("label").equals(expected.column("label"))
    for path in report.files:
        stored = parquet.ParquetFile(path).metadata.metadata
        assert stored[b"raynomaly.model"] == b"m" and stored[b"raynomaly.version"] == b"1"
    assert not leftovers(tmp_path) and report.rows_per_second > 0


@pytest.mark.parametrize("source", ["batch.csv", "parts"])
def test_csv_files_and_parquet_folders_are_scored_too(engine, files, tmp_path, source):
    report = run_batch(
        request(files, source, tmp_path / "out", batch_size=1500, engine=engine), progress=False
    )
    table, expected = written(report), reference(files, "batch.parquet", tmp_path)
    assert report.rows_in == report.rows_out == ROWS
    assert table.column("id").to_pylist() == list(range(ROWS))
    assert table.column("a").type == pa.float64()  # CSV features are written as the values scored
    assert table.column("score").equals(expected.column("score"))


def test_rejected_rows_are_named_and_nothing_is_written(engine, files, tmp_path):
    with pytest.raises(InvalidInput) as refused:
        run_batch(request(files, "bad.csv", tmp_path / "out", engine=engine), progress=False)
    message = str(refused.value)
    assert message.startswith(f"3 of {BAD_CSV_ROWS} rows cannot be scored")
    assert all(f"bad.csv row {row}: {why}" in message for row, why in BAD.items())
    assert "--on-bad-rows null" in message
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_null_mode_keeps_every_row_and_says_why(engine, files, tmp_path):
    report = run_batch(
        request(files, "bad.csv", tmp_path / "out", on_bad_rows="null", engine=engine), progress=False
    )
    table = written(report)
    assert report.rows_in == report.rows_out == BAD_CSV_ROWS and report.bad_rows == 3
    errors = table.column("error").to_pylist()
    assert {i + 1: why for i, why in enumerate(errors) if why is not None} == BAD
    bad = [row - 1 for row in BAD]
    assert [table.column("score")[i].as_py() for i in bad] == [None] * 3
    good = [i for i in range(BAD_CSV_ROWS) if i not in bad]
    model = load("m", 1, str(files / "store"))
    X = np.array([[table.column(f)[i].as_py() for f in FEATURES] for i in good])
    assert table.column("score").take(good).to_pylist() == model.decision_function(X).tolist()


def test_a_job_verifies_the_version_with_the_keys_folder_it_names(files, tmp_path):
    from models import keys
    from models.errors import UnknownKey

    own = tmp_path / "keys"
    store = ModelStore(str(tmp_path / "store"), keys=own)
    keys.new_key(own, encryption=True)
    store.publish(*ModelStore(str(files / "store")).read("m", 1))
    job = BatchRequest(
        "m", 1, str(files / "batch.parquet"), str(tmp_path / "out"), store.uri, engine="process"
    )
    with pytest.raises(UnknownKey, match="not in the keyring"):
        run_batch(job, progress=False)  # the environment's keyring never signed it
    report = run_batch(replace(job, keys=str(own)), progress=False)
    assert report.rows_out == ROWS
