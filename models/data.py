"""Tabular input: reading CSV/Parquet into a float64 matrix, refusing what cannot be scored.

Bad data is refused with the column and row that are wrong, never dropped: a model trained or
scored on silently cleaned data would not be the model the user asked for.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models.errors import InvalidInput

FORMATS = (".csv", ".parquet")


def read_table(path: str | Path) -> pa.Table:
    """The file as an Arrow table; InvalidInput for a missing, unreadable or empty file."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InvalidInput(f"{path}: unsupported format {path.suffix or '(none)'}; use .csv or .parquet")
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".csv":
            from pyarrow import csv

            table = csv.read_csv(path)
        else:
            from pyarrow import parquet

            table = parquet.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidInput(f"{path}: cannot be read as {path.suffix[1:]}: {e}") from e
    if table.num_columns == 0 or table.num_rows == 0:
        raise InvalidInput(f"{path}: the file holds no rows; nothing to train or score")
    return table


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_numeric(kind: pa.DataType) -> bool:
    """Whether a column of this type holds numbers (pure)."""
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    )


def feature_matrix(table: pa.Table, names: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Columns `names` (default: all) as a C-contiguous float64 matrix, or InvalidInput naming why."""
    names = list(table.column_names) if names is None else names
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise InvalidInput(f"missing feature column(s): {', '.join(missing)}; the model expects {names}")
    text = [n for n in names if not is_numeric(table.column(n).type)]
    if text:
        kinds = ", ".join(f"{n} ({table.column(n).type})" for n in text)
        raise InvalidInput(f"non-numeric column(s): {kinds}; every feature must be a number")
    matrix = np.empty((table.num_rows, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = table.column(name)
        if column.null_count:
            row = pc.index(pc.is_null(column), True).as_py()
            raise InvalidInput(
                f"column {name!r} has {column.null_count} missing value(s) (empty, NaN or NULL), "
                f"first at row {row + 1}; every feature must be a finite number"
            )
        try:
            matrix[:, j] = column.cast(pa.float64()).to_numpy()
        except pa.ArrowInvalid as e:  # integers past 2**53, which float64 would round
            raise InvalidInput(
                f"column {name!r} cannot be read as float64 without rounding ({e}); send it as floats"
            ) from e
    check_finite(matrix, names)
    return matrix, names


def check_finite(matrix: np.ndarray, names: list[str] | None = None) -> None:
    """InvalidInput naming the first NaN or infinite value (row and feature)."""
    finite = np.isfinite(matrix)
    if finite.all():
        return
    row, col = np.argwhere(~finite)[0]
    feature = names[col] if names else f"#{col}"
    raise InvalidInput(
        f"non-finite value {matrix[row, col]} in feature {feature} at row {row + 1} "
        f"({int((~finite).sum())} in all); every feature must be a finite number"
    )


def as_rows(X, n_features: int) -> np.ndarray:
    """`X` as validated float64 rows of `n_features` columns (C-contiguous), or InvalidInput."""
    try:
        rows = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"input is not numeric: {e}") from e
    if rows.ndim != 2:
        raise InvalidInput(
            f"expected a 2-D array (rows, {n_features} features), got {rows.ndim}-D shape {rows.shape}; "
            "wrap a single row in a list"
        )
    if rows.shape[1] != n_features:
        raise InvalidInput(f"expected {n_features} features per row, got {rows.shape[1]}")
    check_finite(rows)
    return np.ascontiguousarray(rows)


def write_table(table: pa.Table, path: Path) -> None:
    """Write .csv or .parquet atomically: a reader sees the old file or the whole new one."""
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise InvalidInput(f"{path}: unsupported output format; use .csv or .parquet")
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if path.suffix.lower() == ".csv":
            from pyarrow import csv

            csv.write_csv(table, temporary)
        else:
            from pyarrow import parquet

            parquet.write_table(table, temporary)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
