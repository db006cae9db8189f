"""The controller's /metrics: each judge's evidence of the latest look, as gauges, and whether the
audit chain verifies."""

import sqlite3

from controller.analysis.verdict import Look, Measurement, Outcome, Verdict
from controller.api.telemetry import AuditCollector, RolloutCollector
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


def _tamper(path, seq: int, column: str, value: str) -> None:
    """Edit an audit entry the way someone with the file could: around the append-only trigger."""
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    db.execute(f"UPDATE audit SET {column} = ? WHERE seq = ?", (value, seq))
    db.commit()
    db.close()


def _chain_valid(collector: AuditCollector) -> float:
    (family,) = collector.collect()
    (sample,) = family.samples
    assert sample.name == "raynomaly_audit_chain_valid"
    return sample.value


def test_the_audit_chain_gauge_is_verified_at_most_once_a_minute(tmp_path):
    store = open_store(str(tmp_path / "rollouts.db"))
    served = Served(traffic=ModelTraffic(weights={1: 100}))
    rollout = store.create(new_rollout(RolloutSpec(model="fraud", candidate=2), served, 0.0), "alice")
    store.save(rollout, "bob", "pause", [], {})
    now = [1000.0]
    collector = AuditCollector(store, every_s=60.0, full_every_s=3600.0, clock=lambda: now[0])
    assert _chain_valid(collector) == 1.0

    _tamper(tmp_path / "rollouts.db", 2, "hash", "f" * 64)  # the last verified entry's MAC: seen at once
    now[0] += 59.0
    assert _chain_valid(collector) == 1.0  # cached: not verified again within the minute
    now[0] += 1.0
    assert _chain_valid(collector) == 0.0


def test_an_edit_before_the_last_verified_entry_shows_on_the_hourly_whole_log_check(tmp_path):
    store = open_store(str(tmp_path / "rollouts.db"))
    served = Served(traffic=ModelTraffic(weights={1: 100}))
    rollout = store.create(new_rollout(RolloutSpec(model="fraud", candidate=2), served, 0.0), "alice")
    store.save(rollout, "bob", "pause", [], {})
    now = [0.0]
    collector = AuditCollector(store, every_s=60.0, full_every_s=3600.0, clock=lambda: now[0])
    assert _chain_valid(collector) == 1.0

    _tamper(tmp_path / "rollouts.db", 1, "actor", "mallory")
    now[0] += 60.0
    assert _chain_valid(collector) == 1.0  # from the last verified entry on, the edit is behind it
    now[0] += 3540.0
    assert _chain_valid(collector) == 0.0


def test_the_input_drift_check_exports_its_largest_psi_next_to_its_threshold(tmp_path):
    store = open_store(str(tmp_path / "rollouts.db"))
    served = Served(traffic=ModelTraffic(weights={1: 100}))
    spec = RolloutSpec(model="fraud", candidate=2, thresholds={"max_input_drift": 0.2})
    rollout = store.create(new_rollout(spec, served, 0.0, {"pressure": 10, "flow": 10}), "alice")
    assert store.get(rollout.id).feature_bins == {"pressure": 10, "flow": 10}
    drift = Measurement(
        "input_drift", Outcome.INCONCLUSIVE, 0.41, 0.2, "input drift on pressure", kind="input"
    )
    store.save(rollout, "controller", "hold", [Look(Verdict.of([drift]), 0).event(1.0)], {})

    samples = {
        (s.name, s.labels.get("measurement"), s.labels.get("outcome")): s.value
        for family in RolloutCollector(store).collect()
        for s in family.samples
    }

    assert samples[("raynomaly_analysis_value", "input_drift", "Inconclusive")] == 0.41
    assert samples[("raynomaly_analysis_threshold", "input_drift", None)] == 0.2
