"""The output of a batch job: a folder of Parquet files, written aside into a hidden sibling folder,
verified from the files' footers (row count, the model's key-value metadata) and only then moved
into place, so that a failed job leaves nothing at the output path. The move is a rename on local
disks; object stores copy.

Files are written by `OrderedParquet`: each write task writes its blocks in the order it received
them to `part-<task>.parquet`. Ray Data's own Parquet sink writes a task's blocks with Arrow's
multi-threaded dataset writer, which reorders them, so output rows would not follow input rows.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from ray.data.block import Block, BlockAccessor
from ray.data.datasource import Datasink

from models.errors import InvalidInput
from runtime.batch.inputs import filesystem_of
from runtime.batch.spec import BatchFailed


@dataclass(frozen=True)
class Output:
    """Where a job writes: the final folder and the staging folder beside it."""

    filesystem: pafs.FileSystem
    path: str
    staging: str


@dataclass(frozen=True)
class Written:
    """What the footers of the written files say."""

    files: list[str]
    rows: int
    bad_rows: int


def writer_options(schema: pa.Schema) -> dict:
    """Parquet writer options (pure): dictionary encoding only for columns that are not floats.

    Feature values and scores are almost all distinct; trying a dictionary for them made writing
    1M rows x 22 float columns take 1.0 s instead of 0.24 s.
    """
    return {"use_dictionary": [f.name for f in schema if not pa.types.is_floating(f.type)]}


class OrderedParquet(Datasink[list[int]]):
    """Ray Data sink: each write task writes its blocks, in order, to one file `part-<task>.parquet`
    in `folder`, gathering at least `rows_per_file` rows (the last file may hold fewer)."""

    def __init__(self, filesystem: pafs.FileSystem, folder: str, rows_per_file: int):
        self.filesystem, self.folder, self.rows_per_file = filesystem, folder, rows_per_file

    @property
    def min_rows_per_write(self) -> int:
        """Rows Ray Data gathers for each write task."""
        return self.rows_per_file

    def write(self, blocks: Iterable[Block], ctx) -> list[int]:
        """Write this task's blocks to one file; returns [rows written] ([] for no rows). `ctx` is
        Ray Data's task context: its `task_idx` numbers write tasks in the order of their input."""
        tables = [t for t in (BlockAccessor.for_block(b).to_arrow() for b in blocks) if t.num_rows]
        if not tables:
            return []
        schema = pa.unify_schemas([t.schema for t in tables])  # keeps the first one's metadata
        path = f"{self.folder}/part-{ctx.task_idx:06d}.parquet"  # name order is write order
        stream = self.filesystem.open_output_stream(path)
        with stream, pq.ParquetWriter(stream, schema, **writer_options(schema)) as writer:
            for table in tables:
                writer.write_table(table.select(schema.names).cast(schema))
        return [sum(t.num_rows for t in tables)]


def prepare_output(uri: str) -> Output:
    """The output of a job, its staging folder created; InvalidInput if something already exists at
    the output path (nothing is overwritten)."""
    filesystem, path = filesystem_of(uri)
    path = path.rstrip("/")
    if filesystem.get_file_info(path).type != pafs.FileType.NotFound:
        raise InvalidInput(f"{uri}: already exists; choose a new output path or delete it first")
    target = PurePosixPath(path)
    staging = str(target.parent / f".{target.name}.staging-{uuid.uuid4().hex[:12]}")
    filesystem.create_dir(staging, recursive=True)
    return Output(filesystem, path, staging)


def verify(output: Output, metadata: dict[str, str], *, count_errors: bool) -> Written:
    """Rows, files and bad rows (null `score`) of the staged output, read from the Parquet footers;
    BatchFailed if a file lacks the model's metadata."""
    listed = output.filesystem.get_file_info(pafs.FileSelector(output.staging))
    paths = sorted(f.path for f in listed if f.path.endswith(".parquet"))
    rows = bad_rows = 0
    for path in paths:
        parquet = pq.ParquetFile(output.filesystem.open_input_file(path))
        stored = {k.decode(): v.decode() for k, v in (parquet.metadata.metadata or {}).items()}
        wrong = {k: stored.get(k) for k, v in metadata.items() if stored.get(k) != v}
        if wrong:
            name = PurePosixPath(path).name
            raise BatchFailed(f"{name}: metadata {wrong} instead of {metadata}; the output was discarded")
        rows += parquet.metadata.num_rows
        if count_errors:
            bad_rows += parquet.read(columns=["score"]).column(0).null_count
    final = [f"{output.path}/{PurePosixPath(p).name}" for p in paths]
    return Written(final, rows, bad_rows)


def publish(output: Output) -> None:
    """Move the verified staging folder to the output path."""
    output.filesystem.move(output.staging, output.path)


def discard(output: Output) -> None:
    """Remove the staging folder if it is still there (after a failure)."""
    if output.filesystem.get_file_info(output.staging).type != pafs.FileType.NotFound:
        output.filesystem.delete_dir(output.staging)
