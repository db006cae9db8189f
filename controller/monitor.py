"""What `raynomaly monitor` reports: per version serving a model, each feature's drift from its
training data (PSI and KS of the window's rows per training-quantile bin), its data-quality issues,
and the score drift (PSI and KS of the score percentiles against the reference). Pure: a window
summarised per version and the versions' bins in, a JSON-ready document out.
"""

import numpy as np

from controller.analysis.inputs import feature_drift
from controller.analysis.stats import ks, psi
from controller.analysis.window import VersionWindow

DEFAULT_THRESHOLD = 0.2
"""The PSI above which a feature is flagged (0.1-0.25 is commonly read as a moderate shift)."""


def report(
    model: str,
    window_s: float,
    windows: dict[int, VersionWindow],
    bins: dict[int, dict[str, int] | None],
    threshold: float = DEFAULT_THRESHOLD,
) -> dict:
    """The monitor's document for `model` over a window of `window_s` seconds (pure): one entry per
    version that scored rows in it, oldest first. `bins` holds each version's features and their
    numbers of bins (None: published without feature bins, so its inputs are not compared)."""
    versions = [
        version_report(version, w, bins.get(version), threshold)
        for version, w in sorted(windows.items())
        if w.rows > 0 or w.features
    ]
    return {"model": model, "window_s": window_s, "threshold": threshold, "versions": versions}


def version_report(
    version: int, window: VersionWindow, bins: dict[str, int] | None, threshold: float
) -> dict:
    """One version's figures (pure); `features` is None when the version has no bins."""
    reference = np.ones(len(window.percentiles))
    scored = bool(window.percentiles.sum())
    features = None
    if bins is not None:
        features = [
            {
                "feature": d.feature, "rows": d.rows, "psi": d.psi, "ks": d.ks,
                "drifted": d.psi is not None and d.psi > threshold,
                "issues": dict(sorted(window.issues.get(d.feature, {}).items())),
            }
            for d in feature_drift(window.features, bins)
        ]  # fmt: skip
    return {
        "version": version,
        "rows": window.rows,
        "score_psi": psi(window.percentiles, reference) if scored else None,
        "score_ks": ks(window.percentiles, reference) if scored else None,
        "features": features,
        "drifted": [f["feature"] for f in features or () if f["drifted"]],
        "issues": _issue_totals(window.issues),
    }


def _issue_totals(issues: dict[str, dict[str, float]]) -> dict[str, float]:
    """Rows per issue over all features."""
    totals: dict[str, float] = {}
    for per_feature in issues.values():
        for issue, rows in per_feature.items():
            totals[issue] = totals.get(issue, 0.0) + rows
    return dict(sorted(totals.items()))
