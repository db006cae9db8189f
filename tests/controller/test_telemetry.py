"""The controller's /metrics: each judge's evidence of the latest look, as gauges."""

from controller.analysis.verdict import Look, Measurement, Outcome, Verdict
from controller.api.telemetry import RolloutCollector
from controller.rollouts.create import new_rollout
from controller.rollouts.spec import RolloutSpec
from controller.store import open_store
from controller.targets.spec import Served
from runtime.traffic import ModelTraffic


def test_judges_export_p_value_alpha_interval_and_samples(tmp_path):
    store = open_store(str(tmp_path / "rollouts.db"))
    served = Served(traffic=ModelTraffic(weights={1: 100}))
    rollout = store.create(new_rollout(RolloutSpec(model="fraud", candidate=2), served, 0.0), "alice")
    judge = Measurement("latency", Outcome.SUCCESSFUL, 1.1, 1.5, "", kind="judge", p_value=0.3,
                        alpha=8.3e-4, low=0.7, high=float("inf"), samples=120.0, needed=900.0)  # fmt: skip
    store.save(rollout, "controller", "hold", [Look(Verdict.of([judge]), 0).event(1.0)], {})

    samples = {
        (s.name, s.labels.get("measurement")): s.value
        for family in RolloutCollector(store).collect()
        for s in family.samples
    }

    assert samples[("raynomaly_analysis_p_value", "latency")] == 0.3
    assert samples[("raynomaly_analysis_alpha", "latency")] == 8.3e-4
    assert samples[("raynomaly_analysis_effect_low", "latency")] == 0.7
    assert ("raynomaly_analysis_effect_high", "latency") not in samples  # unbounded: not exported
    assert samples[("raynomaly_analysis_needed_samples", "latency")] == 900.0
    assert samples[("raynomaly_analysis_value", "latency")] == 1.1
