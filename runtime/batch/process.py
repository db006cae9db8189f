"""The in-process engine of a batch job: read batches -> score -> write, in this process.

Below the size where Ray Data repays its fixed cost (`spec.choose_engine`), one process is the
fastest way to score a file: no actors to start, no object-store copies, the same compiled scorer.
Same contract as the Ray Data engine: ordered Parquet files with the model in their metadata,
every row kept, both bad-row modes.
"""

import time
from collections.abc import Iterator

import pyarrow as pa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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
    scorer = BatchScorer(request.store, manifest.model, manifest.version, request.on_bad_rows, metadata)
    with PartWriter(output, request.rows_per_file) as writer, _progress(progress, inputs.rows) as advance:
        try:
            for batch in _batches(inputs, manifest.feature_names, request.batch_size):
                writer.write(scorer(batch))
                advance(batch.num_rows)
        except RejectedRows:
            count, listed = locate_bad_rows(inputs, manifest.feature_names)
            raise InvalidInput(rejected_message(count, inputs.rows, listed)) from None
    return 0.0, f"scored {inputs.rows:,} rows in one process in {time.perf_counter() - started:.2f} s"


def _batches(inputs: Inputs, names: list[str], batch_size: int) -> Iterator[pa.Table]:
    """Every row of every input file, in order, in tables of at most `batch_size` rows."""
    for path in inputs.paths:
        for batch in read_batches(inputs, path, names, batch_size=batch_size):
            yield pa.Table.from_batches([batch])


class _progress:
    """A progress bar of rows scored on stderr (or nothing), as a context giving `advance(rows)`."""

    def __init__(self, shown: bool, total: int):
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
