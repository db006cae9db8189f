"""Running a batch scoring job: check everything, score on the chosen engine, verify, publish.

Everything that can refuse (model, input files and columns, output path, engine) is checked
before any work. An engine (`ENGINES`: this process, or Ray Data) scores into a staging folder;
the written files' footers must then account for every input row and carry the model's metadata,
and only then is the folder moved into place: a failed job leaves nothing at the output path.
"""

import importlib
import sys
import time
from pathlib import Path

from models.manifest import Manifest
from models.store import ModelStore
from runtime.batch import outputs
from runtime.batch.inputs import read_inputs
from runtime.batch.spec import (
    CHECKSUM_KEY,
    MODEL_KEY,
    VERSION_KEY,
    BatchReport,
    BatchRequest,
    check_row_count,
    choose_engine,
)

ENGINES = {"process": "runtime.batch.process", "ray": "runtime.batch.ray_data"}
"""Engine -> its module, whose `score(request, manifest, inputs, output, metadata, progress=)` writes
the staging folder; imported on use, so Ray Data loads only for jobs that run on it."""


def model_metadata(manifest: Manifest) -> dict[str, str]:
    """The key-value metadata naming the model version in every written file (pure)."""
    return {MODEL_KEY: manifest.model, VERSION_KEY: str(manifest.version)}


def on_cluster(request: BatchRequest) -> bool:
    """Whether the job has a Ray cluster to run on: an address, or Ray already running here."""
    ray = sys.modules.get("ray")
    return bool(request.address) or (ray is not None and ray.is_initialized())


def run_batch(request: BatchRequest, *, progress: bool = True) -> BatchReport:
    """Run one batch scoring job to completion; nothing is left at the output path if it fails."""
    keys = Path(request.keys) if request.keys else None
    manifest, _ = ModelStore(request.store, keys=keys).read(request.model, request.version)  # verified
    inputs = read_inputs(request.input, manifest.feature_names)
    engine = choose_engine(request, on_cluster(request))
    output = outputs.prepare_output(request.output)
    metadata = {**model_metadata(manifest), CHECKSUM_KEY: manifest.checksum}
    try:
        started = time.perf_counter()
        score = importlib.import_module(ENGINES[engine]).score
        start_s, stats = score(request, manifest, inputs, output, metadata, progress=progress)
        written = outputs.verify(output, model_metadata(manifest), count_errors=request.on_bad_rows == "null")
        check_row_count(inputs.rows, written.rows, request.output)
        outputs.publish(output)
        seconds = time.perf_counter() - started - start_s
    finally:
        outputs.discard(output)
    return BatchReport(
        model=manifest.model, version=manifest.version, input=request.input, output=request.output,
        engine=engine, rows_in=inputs.rows, rows_out=written.rows, bad_rows=written.bad_rows, seconds=seconds,
        ray_start_seconds=start_s, files=written.files, ray_stats=stats,
    )  # fmt: skip
