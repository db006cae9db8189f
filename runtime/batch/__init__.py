"""Batch scoring on Ray Data: a file or folder of rows scored by a model version's scorer actors and
written as Parquet with the input columns, `score` and `label`, and the model in the files' metadata.

`runtime.batch.job.run_batch(BatchRequest(...)) -> BatchReport` runs one job. This package imports
nothing itself: a scorer actor imports `runtime.batch.scorer` alone.
"""
