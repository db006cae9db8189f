"""A loaded model version: the compiled scorer behind the scikit-learn/PyOD scoring contract."""

from pathlib import Path

import numpy as np

from models import backends
from models.backends.spec import ScoreFn
from models.data import as_rows
from models.errors import IntegrityError
from models.labels import anomaly_labels
from models.manifest import Manifest
from models.settings import ModelSettings
from models.store import ModelStore


class CompiledModel:
    """Scores rows with a compiled artifact; needs neither PyOD nor scikit-learn.

    `decision_function(X)` returns anomaly scores (higher = more anomalous), `predict(X)` returns
    1 for anomalies (score above `threshold_`), 0 otherwise, as PyOD does.
    """

    def __init__(self, manifest: Manifest, score: ScoreFn):
        self.manifest = manifest
        self.threshold_ = manifest.threshold
        self.n_features_in_ = manifest.n_features
        self.feature_names_in_ = list(manifest.feature_names)
        self._score = score

    def __repr__(self) -> str:
        m = self.manifest
        return f"CompiledModel({m.ref}, detector={m.detector}, backend={m.backend})"

    def decision_function(self, X) -> np.ndarray:
        """Anomaly scores of rows `X` (rows, n_features); InvalidInput for bad input."""
        rows = as_rows(X, self.n_features_in_)
        if rows.shape[0] == 0:
            return np.empty(0)
        return self._score(rows)

    def predict(self, X) -> np.ndarray:
        """Labels of rows `X`: 1 = anomaly (score > threshold_), 0 = normal."""
        return anomaly_labels(self.decision_function(X), self.threshold_)


def from_artifact(manifest: Manifest, files: dict[str, bytes], *, warm: bool = True) -> CompiledModel:
    """A model over verified artifact files; `warm` compiles the kernel now, not on first request."""
    backend = backends.get(manifest.backend)
    try:
        model = CompiledModel(manifest, backend.load(manifest.detector, files[manifest.artifact]))
    except IntegrityError as e:  # the backend names the file; the version is named here
        raise IntegrityError(f"{manifest.ref}: {e}") from e
    if warm:
        model.decision_function(np.zeros((1, manifest.n_features)))
    return model


def load(
    name: str,
    version: int | None = None,
    store: str | None = None,
    *,
    warm: bool = True,
    keys: Path | None = None,
) -> CompiledModel:
    """Load `name` (latest version unless `version`) from the store, checksums and signature verified
    with the keyring in `keys` (default: `ModelSettings`)."""
    settings = ModelSettings.resolve(store, keys=keys)
    manifest, files = ModelStore(settings.store, keys=settings.keys).read(name, version)
    return from_artifact(manifest, files, warm=warm)
