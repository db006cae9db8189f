"""The input drift check: per-feature PSI of the candidate's served rows against its training bins,
Inconclusive (the step holds, then pauses) on drift, never Failed."""

import numpy as np
import pytest

from controller.analysis.assess import assess
from controller.analysis.inputs import feature_drift, input_drift, min_rows
from controller.analysis.judges import Arms
from controller.analysis.thresholds import Thresholds
from controller.analysis.verdict import INPUT, Outcome
from controller.analysis.window import VersionWindow
from controller.rollouts.decide import next_action
from controller.rollouts.spec import Phase
from tests.controller import factories

BINS = {"pressure": 10, "flow": 10, "temperature": 10, "vibration": 10}
EVEN = [0.1] * 10
HIGH = [0.0] * 7 + [0.1, 0.3, 0.6]  # most rows in the top bins: shifted up
TOP = [0.0] * 9 + [1.0]  # every row above the last training decile: shifted far


def served(rows: float, shares: dict[str, list[float]] | None = None) -> VersionWindow:
    """A candidate whose features filled their bins in `shares` (even unless named)."""
    shares = shares or {}
    features = {f: {str(b): rows * s for b, s in enumerate(shares.get(f, EVEN)) if s} for f in BINS}
    uniform = np.full(20, rows / 20)  # scores like its reference: only the inputs differ
    return VersionWindow(requests=rows / 8, rows=rows, percentiles=uniform, features=features)


@pytest.mark.parametrize(
    ("candidate", "outcome", "above"),
    [
        pytest.param(served(5000), Outcome.SUCCESSFUL, [], id="served-like-training-passes"),
        pytest.param(served(5000, {"pressure": TOP, "flow": HIGH}), Outcome.INCONCLUSIVE,
                     ["pressure", "flow"], id="two-shifted-features-hold-the-step"),
        pytest.param(served(100, {"pressure": TOP}), Outcome.INCONCLUSIVE, [], id="too-few-rows"),
    ],
)  # fmt: skip
def test_input_drift(candidate, outcome, above):
    m = input_drift(0.2, candidate, BINS)
    assert m.outcome == outcome and m.kind == INPUT and m.threshold == 0.2
    drifts = {d.feature: d.psi for d in feature_drift(candidate.features, BINS)}
    if above:
        assert m.message.startswith(f"input drift on {above[0]} (PSI {drifts[above[0]]:.2f}), {above[1]} (")
        assert m.message.endswith("above 0.2") and m.value == pytest.approx(max(drifts.values()))
        assert all(drifts[f] > 0.2 for f in above)
        assert all(drifts[f] < 0.2 for f in BINS if f not in above)
    if candidate.rows < min_rows(10, 0.2):
        assert m.value is None and "judged from 450" in m.message


def test_rows_drawn_like_the_training_data_stay_well_below_the_threshold_from_min_rows_on():
    rng = np.random.default_rng(0)
    rows = min_rows(10, 0.2)
    psis = []
    for _ in range(200):
        bins = np.bincount(rng.integers(0, 10, rows), minlength=10)
        psis.append(feature_drift({"f": {str(b): float(c) for b, c in enumerate(bins)}}, {"f": 10})[0].psi)
    assert max(psis) < 0.1


def test_a_version_without_bins_cannot_be_measured():
    m = input_drift(0.2, served(5000), None)
    assert m.outcome == Outcome.ERROR and "without feature bins" in m.message


def test_counts_of_a_bin_the_version_lacks_are_an_error_not_a_value():
    candidate = VersionWindow(rows=5000, features={"pressure": {"12": 5000.0}})
    assert input_drift(0.2, candidate, {"pressure": 10}).outcome == Outcome.ERROR


def assessed(candidate: VersionWindow, max_input_drift: float | None, closing: bool = True):
    arms = Arms(candidate, None)
    thresholds = Thresholds(max_input_drift=max_input_drift)
    return assess(thresholds, 0.01, 2, arms, arms, closing=closing, feature_bins=BINS)


def test_the_check_runs_at_closing_looks_only_when_asked_for():
    drifted = served(5000, {"pressure": TOP})
    assert "input_drift" not in {m.name for m in assessed(drifted, None).measurements}
    assert "input_drift" not in {m.name for m in assessed(drifted, 0.2, closing=False).measurements}
    verdict = assessed(drifted, 0.2)
    assert verdict.outcome == Outcome.INCONCLUSIVE and "input drift on pressure" in verdict.reason
    assert [m.name for m in verdict.drifted()] == ["input_drift"]
    assert assessed(served(5000), 0.2).outcome == Outcome.SUCCESSFUL


def test_drifted_inputs_pause_the_step_after_the_inconclusive_limit_and_never_roll_back():
    rollout = factories.rollout(inconclusive_limit=1, thresholds={"max_input_drift": 0.2})
    rollout = rollout.model_copy(update={"phase": Phase.PROGRESSING, "step": 0, "feature_bins": BINS})
    verdict = assessed(served(5000, {"pressure": TOP, "flow": HIGH}), 0.2)
    held = next_action(rollout, verdict, 10.0)
    assert held.name == "hold" and held.rollout.counts.inconclusive == 1
    paused = next_action(held.rollout, verdict, 20.0)
    assert paused.name == "pause" and paused.rollout.phase == Phase.PAUSED
    assert not paused.rollout.paused_for_metrics
    assert "input drift on pressure" in paused.reason and "raynomaly monitor fraud" in paused.reason


def test_a_rollout_judging_input_drift_needs_a_candidate_with_bins():
    from controller.rollouts.create import RolloutRefused, new_rollout
    from controller.targets.spec import Served

    spec = factories.rollout(thresholds={"max_input_drift": 0.2}).spec
    with pytest.raises(RolloutRefused, match="without feature bins.*--max-input-drift"):
        new_rollout(spec, Served(None), 0.0, None)
    assert new_rollout(spec, Served(None), 0.0, BINS).feature_bins == BINS
