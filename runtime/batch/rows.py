"""Rows of a batch as model input: feature values, which rows cannot be scored and why, and the scored
output table. The scorer actors and the driver that locates rejected rows share these functions, so
both judge a row the same way.

A row cannot be scored when a feature is missing (null, empty, NaN in a CSV), not a number (text),
or not finite. Text feature columns (every CSV feature column is read as text so that one bad value
spoils its row, not the whole file) are written back as the float64 values scored.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models.data import is_numeric
from models.errors import InvalidInput
from models.labels import anomaly_labels

# What Arrow's string-to-float64 cast accepts, spelled out so that anything else is found row by row
NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?(?i:nan|inf|infinity)\s*$"


def is_text(kind: pa.DataType) -> bool:
    """Whether a column of this type holds text, to be parsed value by value (pure)."""
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


@dataclass(frozen=True)
class Features:
    """The feature values of a batch, ready for a model."""

    matrix: np.ndarray
    """(rows, features) float64, C-contiguous; rows that cannot be scored hold NaN somewhere."""
    problems: np.ndarray | None
    """Why each row cannot be scored (None where it can); None when every row can."""
    converted: dict[str, pa.Array]
    """Text feature columns as float64 (null where the value is not a number)."""

    @property
    def good(self) -> np.ndarray | None:
        """Mask of the rows that can be scored; None when all can."""
        return None if self.problems is None else np.equal(self.problems, None)


def _values(column: pa.Array, name: str) -> tuple[np.ndarray, pa.Array | None, list]:
    """(float64 values with NaN where unusable, the converted column if text, [(mask, reasons)])."""
    if is_text(column.type):
        number = pc.match_substring_regex(column, NUMBER)
        numbers = pc.if_else(number, pc.utf8_trim_whitespace(column), pa.scalar(None, column.type))
        converted = pc.cast(numbers, pa.float64())
        not_number = pc.fill_null(pc.invert(number), False).to_numpy(zero_copy_only=False)
        texts = column.filter(pa.array(not_number)).to_pylist()
        found = [(not_number, [f"{name}: not a number ({t!r})" for t in texts])]
        column = converted
    elif is_numeric(column.type):
        converted, found = None, []
    else:
        raise InvalidInput(f"feature column {name!r} holds {column.type}; every feature must be a number")
    if column.type != pa.float64():
        column = pc.cast(column, pa.float64())
    if column.null_count:
        missing = column.is_null().to_numpy(zero_copy_only=False)
        if converted is not None:
            missing &= ~found[0][0]
        found.append((missing, f"{name}: missing"))
        column = pc.fill_null(column, np.nan)
    return column.to_numpy(zero_copy_only=False), converted, found


def features(batch: pa.Table | pa.RecordBatch, names: Sequence[str]) -> Features:
    """The feature columns `names` of `batch` as a matrix, and the rows that cannot be scored."""
    values, converted, problems = [], {}, None
    for name in names:
        column = batch.column(name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        column_values, as_float, found = _values(column, name)
        values.append(column_values)
        if as_float is not None:
            converted[name] = as_float
        not_finite = ~np.isfinite(column_values)
        for mask, _ in found:
            not_finite &= ~mask
        if not_finite.any():
            found.append((not_finite, [f"{name}: not finite ({v})" for v in column_values[not_finite]]))
        for mask, reasons in found:
            if not mask.any():
                continue
            if problems is None:
                problems = np.full(batch.num_rows, None, dtype=object)
            first = mask & np.equal(problems, None)  # a row keeps its first problem, in feature order
            if isinstance(reasons, list):  # one reason per row of the mask
                reasons = np.array(reasons, dtype=object)[first[mask]]
            problems[first] = reasons
    return Features(np.ascontiguousarray(np.vstack(values).T), problems, converted)


def scored(
    batch: pa.Table, found: Features, model, *, with_errors: bool, metadata: dict[str, str]
) -> pa.Table:
    """`batch` plus `score` (float64) and `label` (int64, 1 = anomaly), null for rows that cannot be
    scored, plus their reasons in `error` when `with_errors`; `metadata` as the schema's metadata."""
    good = found.good
    if good is None:
        scores = model.decision_function(found.matrix)
    else:
        scores = np.full(batch.num_rows, np.nan)
        scores[good] = model.decision_function(found.matrix[good])
    labels = anomaly_labels(scores, model.threshold_)
    unusable = None if good is None else ~good
    table = batch
    for name, column in found.converted.items():
        table = table.set_column(table.column_names.index(name), name, column)
    table = table.append_column("score", pa.array(scores, mask=unusable))
    table = table.append_column("label", pa.array(labels, pa.int64(), mask=unusable))
    if with_errors:
        errors = (
            pa.nulls(batch.num_rows, pa.string()) if good is None else pa.array(found.problems, pa.string())
        )
        table = table.append_column("error", errors)
    return table.replace_schema_metadata(metadata)
