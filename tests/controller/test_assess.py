"""`assess`, its judges and its ceilings as truth tables over hand-built evidence."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from controller.analysis.assess import alpha_share, assess, unreachable
from controller.analysis.judges import Arms, waiting_for
from controller.analysis.stats import ks, psi, quantile
from controller.analysis.thresholds import Thresholds
from controller.analysis.verdict import Outcome, Verdict
from controller.analysis.window import VersionWindow
from runtime.series import LATENCY_MS

BOUNDS = [*LATENCY_MS, math.inf]
THRESHOLDS, ALPHA, STEPS = Thresholds(), 0.01, 2  # a canary's defaults: 10% and 50% are judged


def window(requests=2000, median_ms=20.0, spread=0.5, errors=0, rows=None, percentiles=None,
           anomaly_rate=0.1, agree=0, disagree=0) -> VersionWindow:  # fmt: skip
    """A version's evidence: latencies log-normal around `median_ms` (expected counts), one row per
    request unless `rows` says."""
    rows = requests if rows is None else rows
    cdf = [1.0 if math.isinf(b) else float(norm.cdf(math.log(b / median_ms) / spread)) for b in BOUNDS]
    shares = np.ones(20) if percentiles is None else np.asarray(percentiles, dtype=float)
    return VersionWindow(
        requests=requests, server_errors=errors, latency_bounds=BOUNDS,
        latency_cumulative=[requests * c for c in cdf], rows=rows, anomalies=rows * anomaly_rate,
        percentiles=shares / shares.sum() * rows, agree=agree, disagree=disagree,
    )  # fmt: skip


def judged(candidate, baseline=None, paired=False) -> Verdict:
    """Every judge over `candidate` vs `baseline` as the step's evidence (the window as well)."""
    arms = Arms(candidate, baseline)
    return assess(THRESHOLDS, ALPHA, STEPS, arms, arms, paired=paired)


def outcomes(verdict) -> dict[str, Outcome]:
    return {m.name: m.outcome for m in verdict.measurements}


DRIFTED = np.r_[np.full(15, 0.2), np.full(5, 10.0)]  # most rows in the top quarter of the reference
SLIGHTLY = np.r_[np.full(10, 0.95), np.full(10, 1.05)]  # KS 0.025: real, and below the floor


@pytest.mark.parametrize(
    ("candidate", "baseline", "name", "outcome"),
    [
        pytest.param(window(), window(), "latency", Outcome.SUCCESSFUL, id="same-latency-passes"),
        pytest.param(window(median_ms=60), window(), "latency", Outcome.FAILED, id="3x-latency-fails"),
        pytest.param(window(median_ms=26), window(), "latency", Outcome.SUCCESSFUL,
                     id="1.3x-is-within-the-1.5x-floor"),
        pytest.param(window(median_ms=2.5), window(median_ms=1), "latency", Outcome.SUCCESSFUL,
                     id="ratio-of-milliseconds-within-tolerance-passes"),
        pytest.param(window(requests=20, median_ms=60), window(), "latency", Outcome.SUCCESSFUL,
                     id="20-requests-cannot-show-it"),
        pytest.param(window(20_000, spread=0.45), window(20_000, spread=0.15), "latency", Outcome.FAILED,
                     id="a-heavier-tail-alone-fails"),
        pytest.param(window(requests=0), window(), "latency", Outcome.INCONCLUSIVE,
                     id="no-candidate-traffic"),
        pytest.param(window(errors=100), window(), "error_share", Outcome.FAILED, id="5pct-errors-fail"),
        pytest.param(window(errors=4), window(errors=4), "error_share", Outcome.SUCCESSFUL,
                     id="same-error-rate-passes"),
        pytest.param(window(errors=6), window(), "error_share", Outcome.SUCCESSFUL,
                     id="0.3pct-more-errors-is-within-the-floor"),
        pytest.param(window(percentiles=DRIFTED), window(), "ks_reference", Outcome.FAILED,
                     id="drift-reference"),
        pytest.param(window(percentiles=DRIFTED), window(), "ks_stable", Outcome.FAILED, id="drift-stable"),
        pytest.param(window(rows=10, percentiles=DRIFTED), window(), "ks_reference", Outcome.SUCCESSFUL,
                     id="10-rows-cannot-show-drift"),
        pytest.param(window(rows=200_000, percentiles=SLIGHTLY), window(), "ks_reference", Outcome.SUCCESSFUL,
                     id="tiny-real-drift-is-within-the-floor"),
        pytest.param(window(anomaly_rate=0.3), window(), "anomaly_rate_delta", Outcome.FAILED,
                     id="anomaly-rate-jump"),
        pytest.param(window(rows=20_000, anomaly_rate=0.01), window(rows=20_000), "anomaly_rate_delta",
                     Outcome.FAILED,
                     id="anomaly-rate-collapse"),
        pytest.param(window(anomaly_rate=0.12), window(), "anomaly_rate_delta", Outcome.SUCCESSFUL,
                     id="small-anomaly-rate-change"),
        pytest.param(window(median_ms=800), window(), "p99_ms", Outcome.FAILED, id="over-the-ceiling"),
        pytest.param(window(errors=100), window(), "error_rate", Outcome.FAILED, id="over-the-error-ceiling"),
        pytest.param(window(requests=10, errors=5), window(), "error_rate", Outcome.INCONCLUSIVE,
                     id="ceilings-need-min-requests"),
    ],
)  # fmt: skip
def test_measurements(candidate, baseline, name, outcome):
    assert outcomes(judged(candidate, baseline))[name] == outcome


def test_a_failed_judge_carries_its_evidence():
    verdict = judged(window(median_ms=60), window())
    latency = next(m for m in verdict.measurements if m.name == "latency")
    assert latency.kind == "judge" and latency.value == pytest.approx(3.0, rel=0.1)
    assert THRESHOLDS.max_p99_ratio < latency.low <= 3.0 <= latency.high
    assert latency.p_value <= latency.alpha == pytest.approx(ALPHA / (STEPS * 5))
    assert verdict.outcome == Outcome.FAILED and verdict.failed("judge")


def test_a_healthy_step_is_successful_with_every_judge_and_ceiling_recorded():
    verdict = judged(window(), window())
    assert verdict.outcome == Outcome.SUCCESSFUL
    assert [m.name for m in verdict.measurements] == [
        "p99_ms", "error_rate", "latency", "error_share", "ks_reference", "ks_stable", "anomaly_rate_delta",
    ]  # fmt: skip
    assert all(m.p_value > m.alpha for m in verdict.measurements if m.kind == "judge")


def test_inconclusive_ceilings_do_not_hold_a_step_but_missing_candidate_traffic_does():
    few = judged(window(requests=20), window())
    assert outcomes(few)["p99_ms"] == Outcome.INCONCLUSIVE and few.outcome == Outcome.SUCCESSFUL
    none = judged(window(requests=0), window())
    assert none.outcome == Outcome.INCONCLUSIVE and "no candidate traffic" in none.reason


def test_a_judge_reports_the_running_minimum_of_its_p_values():
    arms = Arms(window(), window())
    verdict = assess(THRESHOLDS, ALPHA, STEPS, arms, arms, previous={"latency": 0.2})
    assert next(m for m in verdict.measurements if m.name == "latency").p_value == 0.2


def test_what_a_step_still_needs_is_said_in_time_at_the_observed_rate():
    verdict = judged(window(requests=90), window(requests=810))
    said = waiting_for(verdict.measurements, seconds=30.0)
    assert "latency needs ~" in said and "at 3.0/s" in said
    assert waiting_for(judged(window(requests=200_000), window(requests=200_000)).measurements, 30.0) == ""


@pytest.mark.parametrize(
    ("agree", "disagree", "outcome"),
    [(950, 50, Outcome.SUCCESSFUL), (500, 500, Outcome.FAILED), (10, 0, Outcome.SUCCESSFUL)],
    ids=["agreeing-shadow", "disagreeing-shadow", "too-few-pairs-to-fail"],
)
def test_paired_agreement(agree, disagree, outcome):
    verdict = judged(window(agree=agree, disagree=disagree), window(), paired=True)
    assert outcomes(verdict)["agreement"] == outcome


def test_first_version_is_judged_on_its_ceilings_and_reference():
    names = {m.name for m in judged(window(), None).measurements}
    assert names == {"p99_ms", "error_rate", "ks_reference"}


@pytest.mark.parametrize(
    ("alpha", "steps", "baseline", "paired", "share"),
    [
        pytest.param(0.01, 2, True, False, 0.01 / (2 * 5), id="two-steps-five-judges"),
        pytest.param(0.05, 4, True, False, 0.05 / (4 * 5), id="four-steps"),
        pytest.param(0.01, 2, True, True, 0.01 / (2 * 6), id="paired-adds-agreement"),
        pytest.param(0.01, 1, False, False, 0.01, id="reference-only"),
        pytest.param(0.01, 0, False, False, 0.01, id="no-judged-step-counts-as-one"),
    ],
)
def test_alpha_is_split_across_analysed_steps_and_judges(alpha, steps, baseline, paired, share):
    assert alpha_share(alpha, steps, baseline, paired) == pytest.approx(share)


def test_an_unreachable_source_is_an_error_not_a_value():
    verdict = unreachable("connection refused")
    assert verdict.outcome == Outcome.ERROR and verdict.measurements[0].value is None


def test_retired_thresholds_are_refused_in_requests_and_dropped_from_stored_records():
    with pytest.raises(ValueError, match="max_psi and min_rows are retired"):
        Thresholds(max_psi=0.2)
    assert (
        Thresholds.model_validate({"min_rows": 200, "max_ks": 0.15}, context={"stored": True}).max_ks == 0.15
    )


def test_quantile_interpolates_like_histogram_quantile():
    bounds, cumulative = [1.0, 2.0, 4.0, math.inf], [0.0, 50.0, 100.0, 100.0]
    assert quantile(0.5, bounds, cumulative) == pytest.approx(2.0)
    assert quantile(0.75, bounds, cumulative) == pytest.approx(3.0)
    assert quantile(0.99, [1.0, math.inf], [0.0, 10.0]) == 1.0  # beyond the last bound
    assert quantile(0.5, bounds, [0.0, 0.0, 0.0, 0.0]) is None


def test_psi_and_ks_are_zero_for_equal_shapes_and_grow_with_shift():
    uniform = np.ones(20)
    assert psi(uniform * 7, uniform) == pytest.approx(0.0)
    assert ks(uniform * 7, uniform) == pytest.approx(0.0)
    assert psi(DRIFTED, uniform) > 1.0 and ks(DRIFTED, uniform) > 0.5
    assert np.isfinite(psi(np.r_[np.zeros(19), 1.0], uniform))  # empty buckets stay finite
