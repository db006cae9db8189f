"""The input of a batch job: its files, their format, columns and row count, all checked on the
driver before any work, and the search for the rows that cannot be scored.

Rows are named by file and row number, counted from 1 in each file (a CSV header is not a row),
because that is what a user can find again in their data; files are read in name order.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyarrow import csv

from models.data import is_numeric
from models.errors import InvalidInput
from runtime.batch.rows import features, is_text
from runtime.batch.spec import ADDED_COLUMNS

FORMATS: dict[str, Literal["parquet", "csv"]] = {".parquet": "parquet", ".csv": "csv"}
LISTED_ROWS = 10
"""Rejected rows named in the error; the rest are counted."""


@dataclass(frozen=True)
class Inputs:
    """Checked input files, in reading order."""

    format: Literal["parquet", "csv"]
    filesystem: pafs.FileSystem
    paths: tuple[str, ...]
    schema: pa.Schema
    """The first file's columns (CSV feature columns as text)."""
    rows: int


def absolute(uri: str) -> str:
    """`uri` with a local path made absolute: Ray workers run in other folders (pure but for the
    current folder)."""
    return uri if "://" in uri else str(Path(uri).expanduser().resolve())


def filesystem_of(uri: str) -> tuple[pafs.FileSystem, str]:
    """Filesystem and path of a URI; local paths made absolute (Ray workers run in other folders)."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), absolute(uri)
    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidInput(f"{uri}: not a usable file system URI: {e}") from e


def format_of(paths: Sequence[str]) -> Literal["parquet", "csv"]:
    """The one format of `paths`, by extension; InvalidInput for unknown or mixed ones (pure)."""
    kinds = {FORMATS.get(PurePosixPath(p).suffix.lower()) for p in paths}
    if None in kinds or len(kinds) != 1:
        raise InvalidInput(f"inputs must all be .parquet or all .csv files, got: {', '.join(paths[:5])}")
    return kinds.pop()


def csv_options(names: Sequence[str]) -> csv.ConvertOptions:
    """How CSV inputs are parsed: feature columns as text, so a bad value fails only its own row."""
    return csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)


def check_columns(schema: pa.Schema, names: Sequence[str], where: str) -> None:
    """InvalidInput unless `schema` has every feature column, as numbers or text, and no column the
    job adds (pure)."""
    missing = [n for n in names if n not in schema.names]
    if missing:
        raise InvalidInput(
            f"{where}: missing feature column(s) {', '.join(missing)}; the model expects {list(names)}"
        )
    clash = [c for c in ADDED_COLUMNS if c in schema.names]
    if clash:
        raise InvalidInput(f"{where}: already has column(s) {', '.join(clash)}; rename them before scoring")
    wrong = [n for n in names if not (is_numeric(schema.field(n).type) or is_text(schema.field(n).type))]
    if wrong:
        kinds = ", ".join(f"{n} ({schema.field(n).type})" for n in wrong)
        raise InvalidInput(f"{where}: non-numeric feature column(s) {kinds}; every feature must be a number")


def _listing(filesystem: pafs.FileSystem, path: str, uri: str) -> list[str]:
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.File:
        return [path]
    if info.type != pafs.FileType.Directory:
        raise InvalidInput(f"{uri}: no such file or folder")
    found = filesystem.get_file_info(pafs.FileSelector(path))
    paths = sorted(
        f.path
        for f in found
        if f.type == pafs.FileType.File
        and f.base_name[0] not in "._"
        and PurePosixPath(f.base_name).suffix.lower() in FORMATS
    )
    if not paths:
        raise InvalidInput(f"{uri}: the folder holds no .parquet or .csv files")
    return paths


def _schema_and_rows(filesystem: pafs.FileSystem, path: str, kind: str, names: Sequence[str]):
    try:
        if kind == "parquet":
            metadata = pq.ParquetFile(filesystem.open_input_file(path)).metadata
            check_columns(metadata.schema.to_arrow_schema(), names, path)
            return metadata.schema.to_arrow_schema(), metadata.num_rows
        with csv.open_csv(filesystem.open_input_stream(path), convert_options=csv_options(names)) as reader:
            schema = reader.schema
        check_columns(schema, names, path)
        only_first = csv.ConvertOptions(include_columns=[names[0]], column_types={names[0]: pa.string()})
        with csv.open_csv(filesystem.open_input_stream(path), convert_options=only_first) as reader:
            return schema, sum(batch.num_rows for batch in reader)
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidInput(f"{path}: cannot be read as {kind}: {e}") from e


def read_inputs(uri: str, names: Sequence[str]) -> Inputs:
    """The input files of `uri` (a file or a folder of them), every one checked and counted."""
    filesystem, path = filesystem_of(uri)
    paths = _listing(filesystem, path, uri)
    kind = format_of(paths)
    schemas, rows = zip(*(_schema_and_rows(filesystem, p, kind, names) for p in paths), strict=True)
    if sum(rows) == 0:
        raise InvalidInput(f"{uri}: holds no rows; nothing to score")
    return Inputs(kind, filesystem, tuple(paths), schemas[0], sum(rows))


def read_batches(inputs: Inputs, path: str, names: Sequence[str], *, only_features: bool = False,
                 batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """The rows of one input file in order, every column or the feature columns `names` only; CSV
    feature columns as text (`csv_options`). Parquet in batches of `batch_size` rows, CSV in the
    blocks Arrow reads."""
    if inputs.format == "parquet":
        parquet = pq.ParquetFile(inputs.filesystem.open_input_file(path))
        yield from parquet.iter_batches(batch_size=batch_size, columns=list(names) if only_features else None)
        return
    options = csv_options(names)
    if only_features:
        options.include_columns = list(names)
    with csv.open_csv(inputs.filesystem.open_input_stream(path), convert_options=options) as reader:
        yield from reader


def locate_bad_rows(inputs: Inputs, names: Sequence[str]) -> tuple[int, list[tuple[str, int, str]]]:
    """(how many rows cannot be scored, the first LISTED_ROWS as (file name, row from 1, why))."""
    count, listed = 0, []
    for path in inputs.paths:
        offset = 0
        for batch in read_batches(inputs, path, names, only_features=True):
            problems = features(batch, names).problems
            if problems is not None:
                rows = np.flatnonzero(np.not_equal(problems, None))
                count += len(rows)
                name = PurePosixPath(path).name
                shown = rows[: LISTED_ROWS - len(listed)]
                listed += [(name, offset + int(r) + 1, problems[r]) for r in shown]
            offset += batch.num_rows
    return count, listed


def rejected_message(count: int, rows_in: int, listed: list[tuple[str, int, str]]) -> str:
    """The error of a job that rejected `count` rows, naming the `listed` ones (pure)."""
    named = "; ".join(f"{file} row {row}: {why}" for file, row, why in listed)
    more = f"; and {count - len(listed):,} more" if count > len(listed) else ""
    return (
        f"{count:,} of {rows_in:,} rows cannot be scored (rows counted from 1 in each file, a CSV header "
        f"not counted): {named}{more}. Nothing was written; fix these rows, or pass --on-bad-rows null "
        "to score them as null with an error column saying why"
    )
