"""The Scorer deployment: one per model version, as the Serve application `<model>--v<version>`.

Loads its version from the store once (checksums verified), on the GPU when the replica was given
one (or refuses to start), and scores through `@serve.batch`: single rows from many callers are
scored together. Batch size and wait change in place through `reconfigure()`.
"""

import time

import numpy as np
import ray
from ray import serve

from models.distribution import percentiles
from models.gpu import gpu_scorer
from models.scorer import from_artifact
from models.store import ModelStore
from runtime.desired import Batching
from runtime.metrics import ScorerMetrics


def load_scorer(store: str, model: str, version: int, gpu_ids: list):
    """(manifest, scoring function): on GPU 0 of the replica when it holds GPUs, else on the CPU."""
    manifest, files = ModelStore(store).read(model, version)
    if gpu_ids:
        score = gpu_scorer(manifest, files[manifest.artifact], device=0)  # Ray exposes only its GPUs
        score(np.zeros((1, manifest.n_features)))
        return manifest, score, "gpu"
    return manifest, from_artifact(manifest, files, warm=True).decision_function, "cpu"


@serve.deployment
class Scorer:
    """Scores validated float64 rows of one model version."""

    def __init__(self, store: str, model: str, version: int):
        self.manifest, self._score, self.device = load_scorer(store, model, version, ray.get_gpu_ids())
        self.metrics = ScorerMetrics(model, version)
        self.loaded_at = time.time()

    def reconfigure(self, config: dict) -> None:
        """Apply batching settings from `user_config` without restarting."""
        batching = Batching.model_validate(config)
        self.score_rows.set_max_batch_size(batching.max_batch_size)
        self.score_rows.set_batch_wait_timeout_s(batching.batch_wait_timeout_s)

    def describe(self) -> dict:
        """What the gateway needs to validate requests for this version."""
        m = self.manifest
        described = {"model": m.model, "version": m.version, "n_features": m.n_features}
        return {
            **described,
            "feature_names": m.feature_names,
            "threshold": m.threshold,
            "device": self.device,
        }

    def _scored(self, rows: np.ndarray, parts: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Score `rows`, made of consecutive parts of (role, row count), recording metrics per role."""
        self.metrics.record_batch(len(rows))
        scores = self._score(rows)
        labels = (scores > self.manifest.threshold).astype(np.int8)
        position_in_reference = percentiles(self.manifest.reference, scores)
        role_of_row = np.repeat([role for role, _ in parts], [count for _, count in parts])
        for role in {role for role, _ in parts}:
            mine = role_of_row == role
            self.metrics.record(role, position_in_reference[mine], labels[mine])
        return scores, labels

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def score_rows(self, requests: list[tuple[np.ndarray, str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Dynamic batching: many small requests scored as one matrix, answered in order."""
        stacked = np.concatenate([rows for rows, _ in requests]) if len(requests) > 1 else requests[0][0]
        scores, labels = self._scored(stacked, [(role, len(rows)) for rows, role in requests])
        bounds = np.cumsum([0, *(len(rows) for rows, _ in requests)])
        return [(scores[a:b], labels[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    async def score(self, rows: np.ndarray, role: str) -> tuple[np.ndarray, np.ndarray]:
        """Scores and labels of `rows`: small requests join a dynamic batch, large ones go alone."""
        if len(rows) <= 8:
            return await self.score_rows((rows, role))
        return self._scored(rows, [(role, len(rows))])

    def ready(self) -> bool:
        """The version is loaded (a replica that failed to load never answers)."""
        return True


def build(args: dict) -> serve.Application:
    """Application builder: `args` holds store, model and version (from the Serve config)."""
    return Scorer.bind(args["store"], args["model"], int(args["version"]))
