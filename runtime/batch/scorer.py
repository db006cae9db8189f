"""The scorer actor of a batch job: one model version, loaded once per actor, scoring Arrow batches."""

from pathlib import Path

import numpy as np
import pyarrow as pa

from models.scorer import load
from runtime.batch.rows import features, scored
from runtime.batch.spec import RejectedRows


class BatchScorer:
    """A Ray Data actor (`map_batches` callable class) over one model version.

    Loads the version from the store with its checksums verified, the same artifacts Serve scores
    with, and returns each batch with `score` and `label` (and `error` in `null` mode) added.
    """

    def __init__(
        self, store: str, model: str, version: int, on_bad_rows: str, metadata: dict[str, str],
        keys: str | None = None,
    ):  # fmt: skip
        self.model = load(model, version, store, keys=Path(keys) if keys else None)
        self.on_bad_rows = on_bad_rows
        self.metadata = metadata

    def __call__(self, batch: pa.Table) -> pa.Table:
        """`batch` scored; RejectedRows in `reject` mode when a row cannot be scored."""
        found = features(batch, self.model.feature_names_in_)
        if found.problems is not None and self.on_bad_rows == "reject":
            raise RejectedRows(int(np.count_nonzero(~found.good)))
        null_mode = self.on_bad_rows == "null"
        return scored(batch, found, self.model, with_errors=null_mode, metadata=self.metadata)
