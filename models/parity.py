"""The parity gate: a compiled scorer is published only if it reproduces its reference.

Measured on held-out rows: the largest score difference relative to the reference's score range,
Spearman rank correlation, and labels that flip at the threshold. Most pairs reproduce the
reference bit for bit; the tolerances leave room only for the documented rounding differences.
"""

import numpy as np
from pydantic import BaseModel, ConfigDict

from models.labels import anomaly_labels


class Tolerance(BaseModel):
    """Limits a compiled scorer must stay within."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_relative_diff: float
    min_spearman: float
    max_label_flips: int


# Why each limit is what it is:
# - iforest: ONNX Runtime's pow and NumPy's vectorised pow differ by <= 1 ulp.
# - ecod/copod/hbos/ocsvm: the same operations in the same order; ocsvm's exp may differ by 1 ulp.
# - knn/lof: above 15 features scikit-learn measures distances as |x|^2 + |t|^2 - 2 x.t
#   (BLAS), the compiled scorers exactly. LOF rows with equidistant k-th neighbours are
#   left out (`ambiguous`): the reference picks among them by tree traversal order.
# - pca: the ONNX graph uses the same GEMM form against scipy's exact cdist.
STRICT = Tolerance(max_relative_diff=1e-9, min_spearman=0.999999, max_label_flips=0)
TOLERANCES: dict[str, Tolerance] = {
    "iforest": STRICT,
    "ecod": STRICT,
    "copod": STRICT,
    "hbos": STRICT,
    "knn": Tolerance(max_relative_diff=1e-7, min_spearman=0.99999, max_label_flips=0),
    "lof": Tolerance(max_relative_diff=1e-7, min_spearman=0.99999, max_label_flips=0),
    "pca": Tolerance(max_relative_diff=1e-7, min_spearman=0.99999, max_label_flips=0),
    "ocsvm": STRICT,
}


class ParityReport(BaseModel):
    """Compiled vs reference scores on held-out rows, and whether that is within tolerance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: str
    mode: str
    """`batch`, or `row-at-a-time` for transductive references."""
    rows: int
    ambiguous_rows: int
    """Rows left out because the reference breaks ties arbitrarily there (LOF neighbours)."""
    max_abs_diff: float
    score_range: float
    max_relative_diff: float
    spearman: float
    label_flips: int
    tolerance: Tolerance
    passed: bool
    failures: list[str]


def _spearman(reference: np.ndarray, compiled: np.ndarray) -> float:
    if np.ptp(reference) == 0 or np.ptp(compiled) == 0:
        return 1.0 if np.array_equal(reference, compiled) else 0.0
    from scipy.stats import spearmanr  # SciPy takes ~0.5 s to import: only training pays for it

    return float(spearmanr(reference, compiled).statistic)


def compare(
    reference: np.ndarray,
    compiled: np.ndarray,
    threshold: float,
    tolerance: Tolerance,
    *,
    reference_name: str,
    mode: str,
    ambiguous: np.ndarray | None = None,
) -> ParityReport:
    """Judge compiled scores against reference scores of the same rows (pure).

    Rows flagged `ambiguous` are counted and left out; more than half of them fails the check.
    """
    rows = int(reference.size)
    failures = []
    if ambiguous is not None and ambiguous.any():
        if ambiguous.sum() * 2 > rows:
            failures.append(
                f"{int(ambiguous.sum())} of {rows} rows have tied neighbours; deduplicate the data"
            )
        reference, compiled = reference[~ambiguous], compiled[~ambiguous]
    diff = np.abs(reference - compiled)
    max_abs = float(diff.max()) if diff.size else 0.0
    score_range = float(np.ptp(reference)) if reference.size else 0.0
    relative = max_abs / score_range if score_range > 0 else (0.0 if max_abs == 0 else float("inf"))
    spearman = _spearman(reference, compiled) if reference.size > 1 else 1.0
    flips = int((anomaly_labels(reference, threshold) != anomaly_labels(compiled, threshold)).sum())
    if not relative <= tolerance.max_relative_diff:
        failures.append(f"max relative difference {relative:.3g} > {tolerance.max_relative_diff:g}")
    if not spearman >= tolerance.min_spearman:
        failures.append(f"Spearman correlation {spearman:.9f} < {tolerance.min_spearman}")
    if flips > tolerance.max_label_flips:
        failures.append(f"{flips} label flip(s) at the threshold > {tolerance.max_label_flips}")
    return ParityReport(
        reference=reference_name,
        mode=mode,
        rows=rows,
        ambiguous_rows=rows - int(reference.size),
        max_abs_diff=max_abs,
        score_range=score_range,
        max_relative_diff=relative,
        spearman=spearman,
        label_flips=flips,
        tolerance=tolerance,
        passed=not failures,
        failures=failures,
    )
