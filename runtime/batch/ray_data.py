"""The Ray Data engine of a batch job: read -> `concurrency` scorer actors -> ordered Parquet.

For inputs large enough to repay its fixed cost (new actor processes, Ray Data's planning, a Ray
start when none runs), or when the job runs on a cluster (`RAY_ADDRESS`, a RayJob's driver). The
job streams: read tasks, scorer actors (one CPU each) and write tasks overlap. Output row i is
input row i (files in name order): Ray Data preserves block order (`preserve_order`) and
`OrderedParquet` keeps it within each file. Ray Data's own Parquet sink writes a task's blocks with
Arrow's multi-threaded dataset writer, which reorders them.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import ray
from ray.data import ActorPoolStrategy, DataContext, Dataset
from ray.data.block import Block, BlockAccessor
from ray.data.datasource import Datasink

from models.errors import InvalidInput, ModelError
from models.manifest import Manifest
from runtime.batch import private_ray
from runtime.batch.inputs import Inputs, absolute, csv_options, locate_bad_rows, rejected_message
from runtime.batch.outputs import Output, writer_options
from runtime.batch.scorer import BatchScorer
from runtime.batch.spec import BatchFailed, BatchRequest, RejectedRows, check_capacity, required_cpus

MIN_BLOCK_BYTES, MAX_BLOCK_BYTES = 16 << 10, 128 << 20


def block_bytes(batch_size: int, schema: pa.Schema) -> int:
    """Ray Data block size that holds about one batch of `schema` rows, so that blocks spread over the
    actors batch by batch (pure). Variable-width columns are guessed at 16 bytes a value."""
    row = sum(f.type.bit_width // 8 if pa.types.is_primitive(f.type) else 16 for f in schema)
    return min(max(batch_size * max(row, 1), MIN_BLOCK_BYTES), MAX_BLOCK_BYTES)


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


@contextmanager
def ray_session(address: str | None, num_cpus: int) -> Iterator[float]:
    """Ray for one job, yielding the seconds taken to start or join it: the Ray this process already
    uses, else the cluster at `address`, else a private local Ray with `num_cpus` logical CPUs
    (`private_ray`: 127.0.0.1, its own token). What this function started or joined it also shuts down."""
    if ray.is_initialized():
        yield 0.0
    elif address:
        with _joined(lambda: ray.init(address=address, log_to_driver=False), f" at {address}") as seconds:
            yield seconds
    else:
        with private_ray.job_token() as token:
            arguments, variables = private_ray.private_ray(num_cpus, token)
            with private_ray.environment(variables), _joined(lambda: ray.init(**arguments), "") as seconds:
                yield seconds


@contextmanager
def _joined(start: Callable[[], object], where: str) -> Iterator[float]:
    """Run `start` (a `ray.init`), yield the seconds it took, and shut Ray down afterwards."""
    started = time.perf_counter()
    try:
        start()
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise BatchFailed(f"cannot start or join Ray{where}: {e}") from e
    try:
        yield time.perf_counter() - started
    finally:
        ray.shutdown()


def scored_dataset(request: BatchRequest, manifest: Manifest, inputs: Inputs, metadata: dict[str, str],
                   *, progress: bool) -> Dataset:  # fmt: skip
    """The lazy Ray Data pipeline: read the inputs, score them with a pool of scorer actors."""
    paths, filesystem = list(inputs.paths), inputs.filesystem
    if inputs.format == "parquet":
        dataset = ray.data.read_parquet(paths, filesystem=filesystem)
    else:
        options = csv_options(manifest.feature_names)
        dataset = ray.data.read_csv(paths, filesystem=filesystem, convert_options=options)
    configure(dataset.context, block_bytes(request.batch_size, inputs.schema), progress=progress)
    scorer = {
        "store": absolute(request.store),
        "keys": request.keys,
        "model": manifest.model,
        "version": manifest.version,
        "on_bad_rows": request.on_bad_rows,
        "metadata": metadata,
    }
    return dataset.map_batches(
        BatchScorer,
        fn_constructor_kwargs=scorer,
        batch_size=request.batch_size,
        batch_format="pyarrow",
        zero_copy_batch=True,
        compute=ActorPoolStrategy(size=request.concurrency),
        num_cpus=1,
    )


def configure(context: DataContext, block_size: int, *, progress: bool) -> None:
    """This job's Ray Data settings (the dataset's own context; the process-wide one is untouched)."""
    context.execution_options.preserve_order = True  # output row i is input row i
    context.raise_original_map_exception = True  # RejectedRows and model errors arrive as themselves
    context.target_max_block_size = block_size
    context.enable_progress_bars = progress


def score(request: BatchRequest, manifest: Manifest, inputs: Inputs, output: Output, metadata: dict[str, str],
          *, progress: bool) -> tuple[float, str]:  # fmt: skip
    """Score `inputs` into `output`'s staging folder on Ray Data; returns the seconds taken to start
    or join Ray, and Ray Data's per-operator summary of the job."""
    cpus = request.num_cpus or required_cpus(request.concurrency)
    with ray_session(request.address, cpus) as ray_seconds:
        check_capacity(request.concurrency, ray.cluster_resources().get("CPU", 0))
        try:
            dataset = scored_dataset(request, manifest, inputs, metadata, progress=progress)
            dataset.write_datasink(OrderedParquet(output.filesystem, output.staging, request.rows_per_file))
        except ray.exceptions.RayError as e:
            raise _translated(e, inputs, manifest.feature_names) from e
        return ray_seconds, dataset.stats()


def _translated(error: ray.exceptions.RayError, inputs: Inputs, names: list[str]) -> Exception:
    """A failed job's error in the project's terms: the rejected rows located, or what Ray said."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, RejectedRows):
        count, listed = locate_bad_rows(inputs, names)
        return InvalidInput(rejected_message(count, inputs.rows, listed))
    if isinstance(cause, ModelError):
        return cause
    return BatchFailed(f"the Ray Data job failed and nothing was written: {cause or error}")
