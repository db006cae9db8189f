"""Reading tabular data: what is accepted, and the message for what is refused."""

import numpy as np
import pyarrow as pa
import pytest
from pyarrow import csv, parquet

from models.data import as_rows, feature_matrix, is_numeric, read_table
from models.errors import InvalidInput


def _csv(path, text):
    path.write_text(text)
    return path


def test_reads_csv_and_parquet_alike(tmp_path):
    table = pa.table({"a": [1.0, 2.0], "b": [3, 4], "flag": [True, False]})
    csv.write_csv(table, tmp_path / "t.csv")
    parquet.write_table(table, tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        X, names = feature_matrix(read_table(tmp_path / name))
        assert names == ["a", "b", "flag"]
        np.testing.assert_array_equal(X, [[1.0, 3.0, 1.0], [2.0, 4.0, 0.0]])
        assert X.flags.c_contiguous and X.dtype == np.float64


def test_selects_named_features_in_model_order(tmp_path):
    path = _csv(tmp_path / "t.csv", "id,b,a\nx,1,2\ny,3,4\n")
    X, names = feature_matrix(read_table(path), ["a", "b"])
    np.testing.assert_array_equal(X, [[2, 1], [4, 3]])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("a,b\n", "no rows", id="empty"),
        pytest.param("a,b\n1,x\n2,y\n", "non-numeric column(s): b", id="text-column"),
        pytest.param("a,b\n1,2\n3,\n", "column 'b' has 1 missing value", id="missing-value"),
        pytest.param("a,b\n1,2\n3,inf\n", "non-finite value inf in feature b at row 2", id="infinite"),
    ],
)
def test_refuses_bad_files_naming_the_problem(tmp_path, content, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        feature_matrix(read_table(_csv(tmp_path / "t.csv", content)))


def test_refuses_missing_and_unsupported_files(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(InvalidInput, match="unsupported format .json"):
        read_table(_csv(tmp_path / "t.json", "{}"))
    with pytest.raises(InvalidInput, match="cannot be read as parquet"):
        read_table(_csv(tmp_path / "t.parquet", "not parquet"))


def test_missing_feature_columns_are_named(tmp_path):
    path = _csv(tmp_path / "t.csv", "a\n1\n")
    with pytest.raises(InvalidInput, match="missing feature column.*b"):
        feature_matrix(read_table(path), ["a", "b"])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        pytest.param([1.0, 2.0, 3.0], "expected a 2-D array", id="one-dimensional"),
        pytest.param([[1.0, 2.0]], "expected 3 features per row, got 2", id="wrong-width"),
        pytest.param([[1.0, np.nan, 3.0]], "non-finite value nan in feature #1 at row 1", id="nan"),
        pytest.param([["a", "b", "c"]], "not numeric", id="text"),
    ],
)
def test_as_rows_refuses_bad_arrays(rows, message):
    with pytest.raises(InvalidInput, match=message):
        as_rows(rows, 3)


@pytest.mark.parametrize(
    ("kind", "numeric"),
    [
        pytest.param(pa.int8(), True, id="integer"),
        pytest.param(pa.uint64(), True, id="unsigned"),
        pytest.param(pa.float32(), True, id="float"),
        pytest.param(pa.bool_(), True, id="boolean"),
        pytest.param(pa.decimal128(10, 2), True, id="decimal"),
        pytest.param(pa.string(), False, id="text"),
        pytest.param(pa.timestamp("s"), False, id="timestamp"),
        pytest.param(pa.list_(pa.float64()), False, id="list"),
    ],
)
def test_numeric_column_types(kind, numeric):
    assert is_numeric(kind) is numeric
