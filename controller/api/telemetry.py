"""The controller's own Prometheus metrics: each rollout's phase, step and weights, and every
analysis value of its latest window next to its threshold, so users can see what was judged."""

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from controller.rollouts.spec import Phase
from controller.store.spec import RolloutStore

RECENT = 50
"""Finished rollouts still exported (besides every active one)."""


class RolloutCollector(Collector):
    def __init__(self, store: RolloutStore):
        self._store = store

    def collect(self):
        labels = ["rollout", "model", "strategy", "candidate"]
        phase = GaugeMetricFamily(
            "raynomaly_rollout_phase", "1 for the rollout's current phase", labels=[*labels, "phase"]
        )
        step = GaugeMetricFamily("raynomaly_rollout_step", "Index of the current step", labels=labels)
        weight = GaugeMetricFamily(
            "raynomaly_rollout_weight_percent",
            "Traffic percent per version",
            labels=[*labels, "version", "kind"],
        )
        value = GaugeMetricFamily(
            "raynomaly_analysis_value",
            "Latest value of each analysis measurement",
            labels=[*labels, "measurement", "outcome"],
        )
        threshold = GaugeMetricFamily(
            "raynomaly_analysis_threshold",
            "Threshold of each analysis measurement",
            labels=[*labels, "measurement"],
        )
        rollouts = self._store.list(active=True) + [r for r in self._store.list(active=False)[:RECENT]]
        for rollout in rollouts:
            base = [rollout.id, rollout.spec.model, rollout.spec.strategy, str(rollout.spec.candidate)]
            for candidate_phase in Phase:
                phase.add_metric([*base, candidate_phase.value], float(rollout.phase == candidate_phase))
            step.add_metric(base, rollout.step)
            if rollout.traffic is not None:
                for version, percent in rollout.traffic.weights.items():
                    weight.add_metric([*base, str(version), "weight"], percent)
                for version, percent in rollout.traffic.shadows.items():
                    weight.add_metric([*base, str(version), "shadow"], percent)
            verdicts = [e for e in self._store.events(rollout.id) if e["kind"] == "verdict"]
            for measurement in verdicts[-1]["detail"]["measurements"] if verdicts else []:
                if measurement["value"] is not None:
                    value.add_metric(
                        [*base, measurement["name"], measurement["outcome"]], measurement["value"]
                    )
                if measurement["threshold"] is not None:
                    threshold.add_metric([*base, measurement["name"]], measurement["threshold"])
        yield from (phase, step, weight, value, threshold)
