"""A model version loaded for serving, and the scorer that records what it scores.

The same `LocalScorer` runs inside the gateway (inline versions: one hop) and inside a version's
own Scorer deployment (dedicated versions). It scores validated float64 rows, labels them, and
records rows, anomalies and score percentiles per role, and what its inputs look like (each
feature's training-quantile bin per role, values out of the training range: `runtime.inputs`)
unless input drift is switched off for the version; with batching on, small requests wait
for batch-mates through Serve's `@serve.batch` (one queue per version).
"""

from dataclasses import dataclass

import numpy as np
from ray import serve

from models.distribution import percentiles
from models.labels import anomaly_labels
from models.manifest import Manifest
from models.store import ModelStore
from runtime.desired import Batching
from runtime.inputs import InputProfile
from runtime.metrics import ScorerMetrics

PLATFORMS = {"onnx": "onnxruntime_onnx"}
"""Backends under the platform names other model servers use (others go by their own name)."""
SMALL_REQUEST_ROWS = 8
"""Requests of at most this many rows join a dynamic batch; larger ones are scored alone."""


@dataclass(frozen=True)
class Description:
    """What the gateway needs to validate and answer requests for a version."""

    model: str
    version: int
    n_features: int
    feature_names: list[str]
    threshold: float
    device: str
    platform: str = ""
    """What scores it, as the Open Inference Protocol's model metadata names it."""


class LoadedVersion:
    """One version in memory: its manifest, its scoring function and the profile its inputs are
    counted against (None for versions published without feature bins)."""

    def __init__(self, manifest: Manifest, score, device: str):
        self.manifest, self.score, self.device = manifest, score, device
        self.inputs = InputProfile.of(manifest)
        self.description = Description(
            manifest.model, manifest.version, manifest.n_features, list(manifest.feature_names),
            manifest.threshold, device, PLATFORMS.get(manifest.backend, manifest.backend),
        )  # fmt: skip


def load_version(store: str, model: str, version: int, gpu_ids: list | tuple = ()) -> LoadedVersion:
    """The version from the store, checksums verified, compiled and warmed: on GPU 0 of the
    replica when it holds GPUs (or GpuUnavailable), else on the CPU."""
    from models.gpu import gpu_scorer
    from models.scorer import from_artifact

    manifest, files = ModelStore(store).read(model, version)
    if gpu_ids:
        score = gpu_scorer(manifest, files[manifest.artifact], device=0)  # Ray exposes only its GPUs
        score(np.zeros((1, manifest.n_features)))
        return LoadedVersion(manifest, score, "gpu")
    return LoadedVersion(manifest, from_artifact(manifest, files, warm=True).decision_function, "cpu")


class LocalScorer:
    """Scores a loaded version in this process, recording metrics (input drift too when
    `input_drift` is on and the version has feature bins); batches small requests when batching
    is on."""

    def __init__(self, loaded: LoadedVersion, metrics: ScorerMetrics, batching: Batching,
                 input_drift: bool = True):  # fmt: skip
        self.loaded, self.metrics = loaded, metrics
        self.description = loaded.description
        self.batching = batching
        self.inputs = loaded.inputs if input_drift else None
        self._batched = serve.batch(
            max_batch_size=batching.max_batch_size, batch_wait_timeout_s=batching.batch_wait_timeout_s
        )(self._score_batch)

    def configure(self, batching: Batching, input_drift: bool = True) -> None:
        """New batching settings and input drift switch, in place."""
        self.batching = batching
        self.inputs = self.loaded.inputs if input_drift else None
        self._batched.set_max_batch_size(batching.max_batch_size)
        self._batched.set_batch_wait_timeout_s(batching.batch_wait_timeout_s)

    def scored(self, rows: np.ndarray, parts: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Score `rows`, made of consecutive parts of (role, row count), recording metrics per role."""
        loaded, described = self.loaded, self.description
        model, version = described.model, described.version
        self.metrics.record_batch(model, version, len(rows))
        scores = loaded.score(rows)
        labels = anomaly_labels(scores, described.threshold)
        positions = percentiles(loaded.manifest.reference, scores)
        if len(parts) == 1:
            self.metrics.record(model, version, parts[0][0], positions, labels)
            self._count_inputs(rows, parts[0][0])
            return scores, labels
        role_of_row = np.repeat([role for role, _ in parts], [count for _, count in parts])
        for role in {role for role, _ in parts}:
            mine = role_of_row == role
            self.metrics.record(model, version, role, positions[mine], labels[mine])
            self._count_inputs(rows[mine], role)
        return scores, labels

    def _count_inputs(self, rows: np.ndarray, role: str) -> None:
        """Record the rows of one role by feature bin, and the values out of the training range."""
        inputs, described = self.inputs, self.description
        if inputs is None:
            return
        bins, outside = inputs.count(rows)
        self.metrics.record_features(described.model, described.version, role, inputs.bin_cells, bins)
        if outside.any():
            self.metrics.record_issues(described.model, described.version, inputs.issue_cells, outside)

    async def _score_batch(
        self, requests: list[tuple[np.ndarray, str]]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Dynamic batching: many small requests scored as one matrix, answered in order."""
        stacked = np.concatenate([rows for rows, _ in requests]) if len(requests) > 1 else requests[0][0]
        scores, labels = self.scored(stacked, [(role, len(rows)) for rows, role in requests])
        bounds = np.cumsum([0, *(len(rows) for rows, _ in requests)])
        return [(scores[a:b], labels[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    async def score(self, rows: np.ndarray, role: str) -> tuple[np.ndarray, np.ndarray]:
        """Scores and labels of `rows`: small requests join a dynamic batch when batching is on."""
        if self.batching.enabled and len(rows) <= SMALL_REQUEST_ROWS:
            return await self._batched((rows, role))
        return self.scored(rows, [(role, len(rows))])
