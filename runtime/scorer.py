"""The Scorer deployment of a dedicated version: the Serve application `<model>--v<version>`.

For versions that must be isolated (GPUs, heavy models, `placement: dedicated`). Loads its version
from the store once (checksums verified), on the GPU when the replica was given one (or refuses to
start), and scores through the same `LocalScorer` as inline versions; the gateway reaches it through
a deployment handle. Batch size and wait, and whether input drift is counted, change in place
through `reconfigure()`.
"""

import numpy as np
import ray
from ray import serve

from runtime.desired import Batching, ScorerSettings
from runtime.metrics import ScorerMetrics
from runtime.version import Description, LocalScorer, load_version


@serve.deployment
class Scorer:
    """Scores validated float64 rows of one model version."""

    def __init__(self, store: str, model: str, version: int):
        loaded = load_version(store, model, version, ray.get_gpu_ids())
        self.scorer = LocalScorer(loaded, ScorerMetrics(), Batching())

    def reconfigure(self, config: dict) -> None:
        """Apply the settings of `user_config` (`ScorerSettings`) without restarting."""
        settings = ScorerSettings.model_validate(config)
        self.scorer.configure(settings.batching, settings.input_drift)

    def describe(self) -> Description:
        """What the gateway needs to validate requests for this version."""
        return self.scorer.description

    async def score(self, rows: np.ndarray, role: str) -> tuple[np.ndarray, np.ndarray]:
        """Scores and labels of `rows`."""
        return await self.scorer.score(rows, role)


def build(args: dict) -> serve.Application:
    """Application builder: `args` holds store, model and version (from the Serve config)."""
    return Scorer.bind(args["store"], args["model"], int(args["version"]))
