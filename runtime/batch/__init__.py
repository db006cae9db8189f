"""Batch scoring on Ray Data: a file or folder of rows scored by a model version's scorer actors and
written as Parquet with the input columns, `score` and `label`, and the model in the files' metadata.

`run_batch(BatchRequest(...)) -> BatchReport` runs one job; see `runtime/batch/job.py`.
"""

from runtime.batch.job import run_batch
from runtime.batch.spec import BatchFailed, BatchReport, BatchRequest

__all__ = ["BatchFailed", "BatchReport", "BatchRequest", "run_batch"]
