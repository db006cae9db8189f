"""Running a batch scoring job on Ray Data: read -> scorer actors -> Parquet, checked and published.

Everything that can refuse (model, input files and columns, output path, cluster capacity) is
checked on the driver before any work. The job streams: read tasks, `concurrency` scorer actors
(one CPU each) and write tasks overlap. Output row i is input row i (files in name order): Ray
Data preserves block order (`preserve_order`) and `OrderedParquet` keeps it within each file. The
output is written aside, verified from the written files' footers, then moved into place.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy, DataContext, Dataset

from models.errors import InvalidInput, ModelError
from models.manifest import Manifest
from models.store import ModelStore
from runtime.batch import outputs
from runtime.batch.inputs import Inputs, absolute, csv_options, locate_bad_rows, read_inputs, rejected_message
from runtime.batch.scorer import BatchScorer
from runtime.batch.spec import (
    CHECKSUM_KEY,
    MODEL_KEY,
    VERSION_KEY,
    BatchFailed,
    BatchReport,
    BatchRequest,
    RejectedRows,
    check_capacity,
    check_row_count,
    required_cpus,
)

MIN_BLOCK_BYTES, MAX_BLOCK_BYTES = 16 << 10, 128 << 20


def block_bytes(batch_size: int, schema: pa.Schema) -> int:
    """Ray Data block size that holds about one batch of `schema` rows, so that blocks spread over the
    actors batch by batch (pure). Variable-width columns are guessed at 16 bytes a value."""
    row = sum(f.type.bit_width // 8 if pa.types.is_primitive(f.type) else 16 for f in schema)
    return min(max(batch_size * max(row, 1), MIN_BLOCK_BYTES), MAX_BLOCK_BYTES)


def model_metadata(manifest: Manifest) -> dict[str, str]:
    """The key-value metadata naming the model version in every written file (pure)."""
    return {MODEL_KEY: manifest.model, VERSION_KEY: str(manifest.version)}


@contextmanager
def ray_session(address: str | None, num_cpus: int) -> Iterator[float]:
    """Ray for one job, yielding the seconds taken to start or join it: the Ray this process already
    uses, else the cluster at `address`, else a private local Ray with `num_cpus` logical CPUs.
    What this function started or joined it also shuts down."""
    if ray.is_initialized():
        yield 0.0
        return
    started = time.perf_counter()
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise BatchFailed(f"cannot start or join Ray{f' at {address}' if address else ''}: {e}") from e
    try:
        yield time.perf_counter() - started
    finally:
        ray.shutdown()


def scored_dataset(request: BatchRequest, manifest: Manifest, inputs: Inputs, *, progress: bool) -> Dataset:
    """The lazy Ray Data pipeline: read the inputs, score them with a pool of scorer actors."""
    paths, filesystem = list(inputs.paths), inputs.filesystem
    if inputs.format == "parquet":
        dataset = ray.data.read_parquet(paths, filesystem=filesystem)
    else:
        options = csv_options(manifest.feature_names)
        dataset = ray.data.read_csv(paths, filesystem=filesystem, convert_options=options)
    configure(dataset.context, block_bytes(request.batch_size, inputs.schema), progress=progress)
    metadata = {**model_metadata(manifest), CHECKSUM_KEY: manifest.checksum}
    scorer = {
        "store": absolute(request.store),
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


def run_batch(request: BatchRequest, *, progress: bool = True) -> BatchReport:
    """Run one batch scoring job to completion; nothing is left at the output path if it fails."""
    manifest, _ = ModelStore(request.store).read(request.model, request.version)  # checksums verified
    inputs = read_inputs(request.input, manifest.feature_names)
    output = outputs.prepare_output(request.output)
    cpus = request.num_cpus or required_cpus(request.concurrency)
    try:
        with ray_session(request.address, cpus) as ray_seconds:
            check_capacity(request.concurrency, ray.cluster_resources().get("CPU", 0))
            started = time.perf_counter()
            try:
                dataset = scored_dataset(request, manifest, inputs, progress=progress)
                dataset.write_datasink(
                    outputs.OrderedParquet(output.filesystem, output.staging, request.rows_per_file)
                )
            except ray.exceptions.RayError as e:
                raise _translated(e, inputs, manifest.feature_names) from e
            stats = dataset.stats()
            written = outputs.verify(
                output, model_metadata(manifest), count_errors=request.on_bad_rows == "null"
            )
            check_row_count(inputs.rows, written.rows, request.output)
            outputs.publish(output)
            seconds = time.perf_counter() - started
    finally:
        outputs.discard(output)
    return BatchReport(
        model=manifest.model, version=manifest.version, input=request.input, output=request.output,
        rows_in=inputs.rows, rows_out=written.rows, bad_rows=written.bad_rows, seconds=seconds,
        ray_start_seconds=ray_seconds, files=written.files, ray_stats=stats,
    )  # fmt: skip


def _translated(error: ray.exceptions.RayError, inputs: Inputs, names: list[str]) -> Exception:
    """A failed job's error in the project's terms: the rejected rows located, or what Ray said."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, RejectedRows):
        count, listed = locate_bad_rows(inputs, names)
        return InvalidInput(rejected_message(count, inputs.rows, listed))
    if isinstance(cause, ModelError):
        return cause
    return BatchFailed(f"the Ray Data job failed and nothing was written: {cause or error}")
