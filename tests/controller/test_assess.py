"""`assess` and its statistics as truth tables over hand-built windows."""

import math

import numpy as np
import pytest

from controller.analysis.assess import assess, unreachable
from controller.analysis.stats import ks, psi, quantile
from controller.analysis.verdict import Outcome
from controller.analysis.window import VersionWindow
from controller.rollouts.spec import Thresholds
from runtime.metrics import LATENCY_MS

BOUNDS = [*LATENCY_MS, math.inf]
T = Thresholds(min_requests=50, min_rows=200)


def window(requests=500, latency_ms=4.0, errors=0, rows=2000, percentiles=None, anomaly_rate=0.1,
           agree=0, disagree=0) -> VersionWindow:  # fmt: skip
    """A version's window whose every request took about `latency_ms`."""
    cumulative = [requests if bound >= latency_ms else 0.0 for bound in BOUNDS]
    shares = np.ones(20) if percentiles is None else np.asarray(percentiles, dtype=float)
    return VersionWindow(
        requests=requests, server_errors=errors, latency_bounds=BOUNDS, latency_cumulative=cumulative,
        rows=rows, anomalies=rows * anomaly_rate, percentiles=shares / shares.sum() * rows,
        agree=agree, disagree=disagree,
    )  # fmt: skip


def outcomes(verdict) -> dict[str, Outcome]:
    return {m.name: m.outcome for m in verdict.measurements}


DRIFTED = np.r_[np.full(15, 0.2), np.full(5, 10.0)]  # most rows in the top quarter of the reference


@pytest.mark.parametrize(
    ("candidate", "baseline", "name", "outcome"),
    [
        pytest.param(window(), window(), "p99_ratio", Outcome.SUCCESSFUL, id="same-latency-passes"),
        pytest.param(window(latency_ms=40), window(), "p99_ratio", Outcome.FAILED, id="10x-p99-fails"),
        pytest.param(window(latency_ms=2.5), window(latency_ms=1), "p99_ratio", Outcome.SUCCESSFUL,
                     id="ratio-of-milliseconds-within-tolerance-passes"),
        pytest.param(window(latency_ms=800), window(), "p99_ms", Outcome.FAILED, id="over-the-ceiling"),
        pytest.param(window(requests=10), window(), "p99_ratio", Outcome.INCONCLUSIVE, id="few-requests"),
        pytest.param(window(), window(requests=10), "p99_ratio", Outcome.INCONCLUSIVE, id="few-baseline"),
        pytest.param(window(errors=50), window(), "error_rate", Outcome.FAILED, id="10pct-errors-fail"),
        pytest.param(window(errors=2), window(), "error_rate", Outcome.SUCCESSFUL, id="0.4pct-errors-pass"),
        pytest.param(window(percentiles=DRIFTED), window(), "psi_reference", Outcome.FAILED, id="drift-psi"),
        pytest.param(window(percentiles=DRIFTED), window(), "ks_stable", Outcome.FAILED, id="drift-ks"),
        pytest.param(window(rows=50, percentiles=DRIFTED), window(), "psi_reference", Outcome.INCONCLUSIVE,
                     id="few-rows-is-no-verdict-on-drift"),
        pytest.param(window(anomaly_rate=0.3), window(), "anomaly_rate_delta", Outcome.FAILED,
                     id="anomaly-rate-jump"),
        pytest.param(window(anomaly_rate=0.12), window(), "anomaly_rate_delta", Outcome.SUCCESSFUL,
                     id="small-anomaly-rate-change"),
    ],
)  # fmt: skip
def test_measurements(candidate, baseline, name, outcome):
    assert outcomes(assess(T, candidate, baseline))[name] == outcome


def test_the_worst_phase_decides_and_a_bad_value_outranks_missing_data():
    verdict = assess(T, window(latency_ms=40, rows=10), window())
    assert outcomes(verdict)["psi_reference"] == Outcome.INCONCLUSIVE
    assert verdict.outcome == Outcome.FAILED
    assert "p99_ratio" in verdict.reason and "psi" not in verdict.reason


def test_a_healthy_window_is_successful_with_every_measurement_recorded():
    verdict = assess(T, window(), window())
    assert verdict.outcome == Outcome.SUCCESSFUL
    names = {m.name for m in verdict.measurements}
    assert names == {"p99_ms", "p99_ratio", "p50_ratio", "error_rate", "psi_reference", "ks_reference",
                     "psi_stable", "ks_stable", "anomaly_rate_delta"}  # fmt: skip
    ratio = next(m for m in verdict.measurements if m.name == "p99_ratio")
    assert ratio.value == pytest.approx(1.0) and ratio.threshold == T.max_p99_ratio


@pytest.mark.parametrize(
    ("agree", "disagree", "outcome"),
    [(950, 50, Outcome.SUCCESSFUL), (500, 500, Outcome.FAILED), (10, 0, Outcome.INCONCLUSIVE)],
    ids=["agreeing-shadow", "disagreeing-shadow", "too-few-pairs"],
)
def test_paired_agreement(agree, disagree, outcome):
    verdict = assess(T, window(agree=agree, disagree=disagree), window(), paired=True)
    assert outcomes(verdict)["agreement"] == outcome


def test_first_version_is_judged_on_its_own_ceilings_and_reference():
    names = {m.name for m in assess(T, window(), None).measurements}
    assert names == {"p99_ms", "error_rate", "psi_reference", "ks_reference"}


def test_an_unreachable_source_is_an_error_not_a_value():
    verdict = unreachable("connection refused")
    assert verdict.outcome == Outcome.ERROR and verdict.measurements[0].value is None


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
