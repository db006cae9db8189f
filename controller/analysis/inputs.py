"""Input drift: how far a version's served inputs are from its training data, per feature (pure).

Each feature's served rows per training-quantile bin (`VersionWindow.features`) are compared with
the equal shares its training rows fill (`models.drift`): the population stability index (PSI),
which the rollout's check reads, and a Kolmogorov-Smirnov distance on the bins. `input_drift` is
that check: with `max_input_drift` set, a step whose candidate is served inputs that drifted from
its training data holds as Inconclusive (and then pauses) rather than failing, since the data, not
the candidate, changed.
"""

import math
from dataclasses import dataclass

from controller.analysis.verdict import INPUT, Measurement, Outcome
from controller.analysis.window import VersionWindow
from models.drift import feature_ks, feature_psi

NAME = "input_drift"


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's served rows against its training bins; `psi` and `ks` are None without rows."""

    feature: str
    rows: float
    psi: float | None
    ks: float | None


def feature_drift(features: dict[str, dict[str, float]], bins: dict[str, int]) -> list[FeatureDrift]:
    """The drift of every feature in `bins` (feature -> its number of bins, in the manifest's
    order) from its counts in `features` (feature -> bin -> rows) (pure). ValueError when a count
    names a bin the feature does not have (the counts are of another version)."""
    drifts = []
    for feature, n_bins in bins.items():
        counts = features.get(feature, {})
        drifts.append(
            FeatureDrift(
                feature, sum(counts.values()), feature_psi(counts, n_bins), feature_ks(counts, n_bins)
            )
        )
    return drifts


def min_rows(n_bins: int, threshold: float) -> int:
    """Rows a feature needs before its PSI is judged against `threshold` (pure): n rows drawn
    exactly like the training data show a PSI of about (n_bins - 1) / n by chance alone, a tenth
    of the threshold from this many rows on."""
    return math.ceil(10 * (n_bins - 1) / threshold)


def drifted(drifts: list[FeatureDrift], threshold: float) -> list[FeatureDrift]:
    """The features whose PSI is above `threshold`, largest first (pure)."""
    over = [d for d in drifts if d.psi is not None and d.psi > threshold]
    return sorted(over, key=lambda d: d.psi, reverse=True)


def input_drift(threshold: float, candidate: VersionWindow, bins: dict[str, int] | None) -> Measurement:
    """The candidate's input drift over the step's evidence (pure): Successful when every feature's
    PSI is at most `threshold`; Inconclusive naming the features above it, or when too few rows were
    counted (value None); Error when the candidate has no bins to measure against."""

    def measured(outcome: Outcome, message: str, value: float | None = None) -> Measurement:
        return Measurement(NAME, outcome, value, threshold, message, kind=INPUT)

    if not bins:
        return measured(
            Outcome.ERROR,
            f"{NAME}: the candidate was published without feature bins, so its inputs cannot be "
            "compared with its training data; retrain it, or deploy without --max-input-drift",
        )
    try:
        drifts = feature_drift(candidate.features, bins)
    except ValueError as e:
        return measured(
            Outcome.ERROR,
            f"{NAME}: the served counts do not match the candidate's bins ({e}); check that the "
            "runtime serves the version the store holds",
        )
    rows, needed = min(d.rows for d in drifts), min_rows(max(bins.values()), threshold)
    if rows < needed:
        return measured(
            Outcome.INCONCLUSIVE, f"{NAME}: {rows:.0f} candidate rows over the step, judged from {needed}"
        )
    largest = max(drifts, key=lambda d: d.psi)
    if over := drifted(drifts, threshold):
        named = ", ".join(
            f"{d.feature} (PSI {d.psi:.2f})" if i == 0 else f"{d.feature} ({d.psi:.2f})"
            for i, d in enumerate(over)
        )
        return measured(Outcome.INCONCLUSIVE, f"input drift on {named} above {threshold:g}", largest.psi)
    return measured(
        Outcome.SUCCESSFUL,
        f"{NAME}: largest PSI {largest.psi:.2f} ({largest.feature}) within {threshold:g}, {rows:.0f} rows",
        largest.psi,
    )
