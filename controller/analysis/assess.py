"""`assess`: judge the candidate at one look (pure).

Two kinds of measurement. The judges (`analysis.regressions`) read everything the step has
gathered so far, against the baseline (the stable version on the same live traffic, or the same
version before its update) and the candidate's reference distribution, as sequential tests with one
share of the rollout's alpha each. The ceilings read only the window that just closed: absolute
limits the candidate must never pass (`max_p99_ms`, `max_error_rate`), applied once the window has
`min_requests` candidate requests. With `max_input_drift`, the closing look also checks the
candidate's inputs over the step against its training data (`analysis.inputs`).
"""

from controller.analysis.inputs import input_drift
from controller.analysis.judges import Arms
from controller.analysis.regressions import count, judged
from controller.analysis.stats import quantile
from controller.analysis.thresholds import Thresholds
from controller.analysis.verdict import Measurement, Outcome, Verdict
from controller.analysis.window import VersionWindow

S, F, INC = Outcome.SUCCESSFUL, Outcome.FAILED, Outcome.INCONCLUSIVE


def unreachable(message: str) -> Verdict:
    """The verdict of a look whose metrics could not be read (pure)."""
    return Verdict.of([Measurement("metrics", Outcome.ERROR, message=message, kind="metrics")])


def alpha_share(alpha: float, judged_steps: int, baseline: bool, paired: bool) -> float:
    """Each judge's share of the rollout's `alpha` at each analysed step (pure): alpha split evenly
    (Bonferroni) across the rollout's `judged_steps` and the judges that run."""
    return alpha / (max(judged_steps, 1) * count(baseline, paired))


def assess(
    thresholds: Thresholds,
    alpha: float,
    judged_steps: int,
    window: Arms,
    evidence: Arms,
    paired: bool = False,
    previous: dict[str, float] | None = None,
    closing: bool = True,
    feature_bins: dict[str, int] | None = None,
) -> Verdict:
    """Every measurement of the look and their combined outcome (pure). `alpha` is the rollout's,
    shared by its `judged_steps`; `paired` says one arm sees mirrored copies of the other's requests.
    `previous` holds the judges' p-values at the step's earlier looks; the ceilings apply when the
    window is `closing`, and so does the input drift check, against the candidate's `feature_bins`
    (feature -> its number of bins; None: it has none)."""
    share = alpha_share(alpha, judged_steps, evidence.baseline is not None, paired)
    measurements = ceilings(thresholds, window.candidate) if closing else []
    if closing and thresholds.max_input_drift is not None:
        measurements.append(input_drift(thresholds.max_input_drift, evidence.candidate, feature_bins))
    measurements += judged(thresholds, evidence, share, paired, previous or {})
    return Verdict.of(measurements)


def ceilings(t: Thresholds, candidate: VersionWindow) -> list[Measurement]:
    """The window's absolute limits (pure); Inconclusive, and so not counted, below min_requests."""
    if candidate.requests < t.min_requests:
        text = (
            f"{candidate.requests:.0f} candidate requests in the window, ceilings apply from {t.min_requests}"
        )
        return [
            Measurement("p99_ms", INC, None, t.max_p99_ms, f"p99_ms: {text}"),
            Measurement("error_rate", INC, None, t.max_error_rate, f"error_rate: {text}"),
        ]
    p99 = quantile(0.99, candidate.latency_bounds, candidate.latency_cumulative)
    over = p99 is not None and p99 > t.max_p99_ms
    latency = Measurement(
        "p99_ms",
        F if over else S,
        p99,
        t.max_p99_ms,
        f"candidate p99 {p99 or 0:.1f} ms {'>' if over else '<='} ceiling {t.max_p99_ms:g} ms",
    )
    rate = candidate.error_rate
    counted = f"{candidate.server_errors:.0f}/{candidate.requests:.0f}"
    text = f"error rate {rate:.2%} ({counted}), ceiling {t.max_error_rate:.2%}"
    errors = Measurement("error_rate", F if rate > t.max_error_rate else S, rate, t.max_error_rate, text)
    return [latency, errors]
