"""What `rollout status` and `watch` print: each judge's evidence over the step, and what it needs."""

import json
import math

from rich.console import Console

from controller.analysis.verdict import Look, Measurement, Outcome, Verdict
from controller.cli.rollout_view import trend, view
from tests.controller.test_report import _decision, _rollout, _verdict


def _printed(rollout: dict, events: list[dict]) -> str:
    console = Console(width=120, record=True)
    console.print(view(rollout, events))
    return console.export_text()


def test_judges_show_effect_interval_p_value_trend_and_samples():
    events = [
        _decision(1.0, "start", "Progressing", 0, "canary step 1: 10%", {"1": 90, "2": 10}),
        _verdict(31.0, "Successful", 0, 1.1, 10.5),
        _verdict(46.0, "Failed", 0, 3.1, 30.4),
    ]
    text = _printed(_rollout(phase="Progressing", step=0), events)
    row = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("p99_ratio"))
    assert "3.1 [2.2, inf]" in row and "0.0001/0.00083" in row and "400 of ~900" in row and "Failed" in row
    assert "▂█" in row  # p fell from 0.4 to 0.0001 (below alpha) over the two looks of the step
    assert "p99_ms" in text and "latest window" in text
    assert "evidence" in text and "p50_ratio has no candidate traffic yet" in text


def test_a_judge_whose_need_is_out_of_reach_says_so():
    judge = Measurement("latency", Outcome.SUCCESSFUL, 1.0, 1.5, "", kind="judge", p_value=0.5, alpha=1e-3,
                        low=0.8, high=math.inf, samples=40.0, needed=math.inf)  # fmt: skip
    event = Look(Verdict.of([judge]), step=0, evidence_s=20.0).event(31.0)
    text = _printed(_rollout(phase="Progressing", step=0), [json.loads(json.dumps(event))])
    row = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("latency"))
    assert "1 [0.8, inf]" in row and "40 (needs more traffic)" in row
    assert "latency cannot see one at this traffic" in text


def test_a_finished_rollout_does_not_ask_for_more_evidence():
    events = [_verdict(31.0, "Successful", 0, 1.1, 10.5)]
    assert "evidence" not in _printed(_rollout(phase="Succeeded", step=0), events)


def test_trend_reaches_full_at_alpha():
    assert trend([1.0, 0.1, 0.01, 0.001], 0.001) == "▁▃▆█"
    assert trend([None, 1e-9], 0.001) == " █"
    assert trend([0.5], None) == ""


def test_the_input_drift_check_shows_its_largest_psi_and_the_features_above():
    reason = "input drift on pressure (PSI 0.41), flow (0.33) above 0.2"
    drift = Measurement("input_drift", Outcome.INCONCLUSIVE, 0.41, 0.2, reason, kind="input")
    event = Look(Verdict.of([drift]), step=0, evidence_s=20.0).event(31.0)
    text = _printed(_rollout(phase="Progressing", step=0), [json.loads(json.dumps(event))])
    row = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("input_drift"))
    assert "inputs over the step" in text and "0.41" in row and "0.2" in row and "Inconclusive" in row
    assert "input drift on pressure" in text
