"""Training: fit the PyOD reference, compile it, prove parity, publish a version.

Every step that can refuse runs before anything is written; a compiled scorer outside its
parity tolerance is never published.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from models import backends, detectors
from models.data import feature_matrix, file_sha256, read_table
from models.distribution import describe
from models.drift import feature_edges
from models.errors import InvalidInput, InvalidSpec, ParityFailed
from models.manifest import Manifest, TrainingSummary
from models.parity import TOLERANCES, ParityReport, Tolerance, compare
from models.store import ModelStore, check_name

MIN_ROWS = 20
HOLDOUT_SHARE = 0.2
MAX_HOLDOUT = 10_000
ROW_AT_A_TIME_BUDGET = 5e7  # reference work (rows x features) for one-row-at-a-time parity
_LIBRARIES = ("numpy", "pyod", "scikit-learn", "numba", "onnx", "onnxruntime")


@dataclass(frozen=True)
class TrainRequest:
    """What to train: a named model from a data file with one detector and its parameters."""

    name: str
    detector: str
    data: str
    contamination: float = 0.1
    params: Mapping[str, Any] = field(default_factory=dict)
    backend: str = "auto"


def split(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (fit, holdout), each in file order; the holdout is 20%, at most 10,000 (pure)."""
    holdout = min(max(int(round(n_rows * HOLDOUT_SHARE)), 1), MAX_HOLDOUT)
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[holdout:]), np.sort(order[:holdout])


def parity_rows(detector: detectors.Detector, holdout: int, fit_shape: tuple[int, int]) -> int:
    """How many held-out rows the reference scores: all, unless it must go one row at a time."""
    if not detector.row_at_a_time:
        return holdout
    affordable = int(ROW_AT_A_TIME_BUDGET / (fit_shape[0] * fit_shape[1]))
    return min(holdout, max(50, min(affordable, 1000)))


def train(
    request: TrainRequest,
    store: ModelStore,
    progress: Callable[[str], None] = lambda _: None,
    tolerances: Mapping[str, Tolerance] = TOLERANCES,
) -> Manifest:
    """Train, compile, check parity and publish; returns the published manifest."""
    check_name(request.name)
    detector = detectors.get(request.detector)
    detectors.validate_params(detector, request.params, request.contamination)
    backend = backends.choose(detector.name, request.backend)
    seed = request.params.get("random_state") or 0
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidSpec(f"random_state must be an integer, got {seed!r}")

    progress(f"reading {request.data}")
    X, names = feature_matrix(read_table(request.data))
    if len(X) < MIN_ROWS:
        raise InvalidInput(f"{request.data}: {len(X)} rows; training needs at least {MIN_ROWS}")
    fit_rows, holdout_rows = split(len(X), seed)
    fitting, holdout = X[fit_rows], X[holdout_rows]

    progress(f"fitting {detector.reference} on {len(fitting):,} rows")
    reference = detectors.fit(detector, fitting, request.params, request.contamination)
    threshold = float(reference.threshold_)

    progress(f"compiling with {backend.name}")
    params = detector.extract(reference)
    detectors.check_training_scores(detector, reference)
    artifact = backend.compile(detector.name, params, X.shape[1])
    compiled = backend.load(detector.name, artifact)
    scores = compiled(holdout)

    checked = parity_rows(detector, len(holdout), fitting.shape)
    progress(f"checking parity on {checked:,} held-out rows")
    report = _parity(
        detector, reference, params, holdout[:checked], scores[:checked], tolerances[detector.name]
    )
    if not report.passed:
        others = [
            b for b, impl in backends.BACKENDS.items() if b != backend.name and impl.supports(detector.name)
        ]
        advice = f"try --backend {' or '.join(others)}" if others else "please report this as a bug"
        raise ParityFailed(
            f"{detector.name} compiled with {backend.name} disagrees with {report.reference}: "
            f"{'; '.join(report.failures)}; nothing was published; {advice}",
            report,
        )

    draft = Manifest(
        model=request.name,
        version=0,
        detector=detector.name,
        backend=backend.name,
        artifact=backend.artifact,
        params=dict(request.params),
        contamination=request.contamination,
        threshold=threshold,
        n_features=X.shape[1],
        feature_names=names,
        training=_summary(request.data, X, len(fitting), len(holdout), seed),
        reference=describe(scores, threshold),
        feature_bins=feature_edges(fitting),
        parity=report,
        libraries={name: metadata.version(name) for name in _LIBRARIES},
        created_at=datetime.now(UTC),
    )
    progress("publishing")
    return store.publish(draft, {backend.artifact: artifact})


def _parity(
    detector, reference, params, rows: np.ndarray, compiled: np.ndarray, tolerance: Tolerance
) -> ParityReport:
    return compare(
        detectors.reference_scores(detector, reference, rows),
        compiled,
        float(reference.threshold_),
        tolerance,
        reference_name=detector.reference.replace(":", "."),
        mode="row-at-a-time" if detector.row_at_a_time else "batch",
        ambiguous=detector.ambiguous(params, rows) if detector.ambiguous else None,
    )


def _summary(path: str, X: np.ndarray, fit: int, holdout: int, seed: int) -> TrainingSummary:
    return TrainingSummary(
        source=Path(path).name,
        source_sha256=file_sha256(path),
        rows=len(X),
        fit_rows=fit,
        holdout_rows=holdout,
        split_seed=seed,
        feature_mean=X.mean(axis=0).tolist(),
        feature_std=X.std(axis=0).tolist(),
        feature_min=X.min(axis=0).tolist(),
        feature_max=X.max(axis=0).tolist(),
    )
