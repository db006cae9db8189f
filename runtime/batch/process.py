"""The in-process engine of a batch job: read batches -> score -> write, in this process.

On one machine this is the fastest way to score a file (`spec.choose_engine`): no actors to start,
no object-store copies, the same compiled scorer. Batches are scored by a thread per core (the
compiled kernels, Arrow and most of NumPy release the GIL) while the next ones are read, and
written in input order. Same contract as the Ray Data engine: ordered Parquet files with the model in their
metadata, every row kept, both bad-row modes.
"""

import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from models.errors import InvalidInput
from models.manifest import Manifest
from runtime.batch.inputs import Inputs, locate_bad_rows, read_batches, rejected_message
from runtime.batch.outputs import Output, PartWriter
from runtime.batch.scorer import BatchScorer
from runtime.batch.spec import BatchRequest, RejectedRows


def score(request: BatchRequest, manifest: Manifest, inputs: Inputs, output: Output, metadata: dict[str, str],
          *, progress: bool) -> tuple[float, str]:  # fmt: skip
    """Score `inputs` into `output`'s staging folder here; returns (0 s to start Ray, a summary)."""
    started = time.perf_counter()
    scorer = BatchScorer(
        request.store, manifest.model, manifest.version, request.on_bad_rows, metadata, keys=request.keys
    )
    workers = max(os.cpu_count() or 1, 1)
    with (
        PartWriter(output, request.rows_per_file) as writer,
        _progress(progress, inputs.rows) as advance,
        ThreadPoolExecutor(workers, thread_name_prefix="batch-scorer") as pool,
    ):
        pending: deque[Future] = deque()
        try:
            for batch in _batches(inputs, manifest.feature_names, request.batch_size):
                pending.append(pool.submit(scorer, batch))
                while len(pending) > workers or (pending and pending[0].done()):
                    _write(writer, pending.popleft().result(), advance)
            while pending:
                _write(writer, pending.popleft().result(), advance)
        except RejectedRows:
            count, listed = locate_bad_rows(inputs, manifest.feature_names)
            raise InvalidInput(rejected_message(count, inputs.rows, listed)) from None
    return 0.0, f"scored {inputs.rows:,} rows in one process in {time.perf_counter() - started:.2f} s"


def _write(writer: PartWriter, table: pa.Table, advance) -> None:
    writer.write(table)
    advance(table.num_rows)


def _batches(inputs: Inputs, names: list[str], batch_size: int) -> Iterator[pa.Table]:
    """Every row of every input file, in order, in tables of at most `batch_size` rows (read here
    while the pool scores the batches before them)."""
    for path in inputs.paths:
        for batch in read_batches(inputs, path, names, batch_size=batch_size):
            yield pa.Table.from_batches([batch])


class _progress:
    """A progress bar of rows scored on stderr (or nothing), as a context giving `advance(rows)`."""

    def __init__(self, shown: bool, total: int):
        # imported here: a scorer process without a terminal does not pay for rich (~30 ms)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             transient=True) if shown else None  # fmt: skip
        self._total = total

    def __enter__(self):
        if self._bar is None:
            return lambda rows: None
        self._bar.start()
        task = self._bar.add_task("rows", total=self._total)
        return lambda rows: self._bar.advance(task, rows)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
