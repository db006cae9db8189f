"""The controller's own Prometheus metrics: each rollout's phase, step and weights, and every
analysis value of its latest look next to its threshold, so users can see what was judged; for the
sequential judges also the p-value and its alpha share, the effect's interval and the samples seen
and needed (graph `raynomaly_analysis_p_value / raynomaly_analysis_alpha` falling toward 1)."""

import math

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
        per = [*labels, "measurement"]
        judged = {  # measurement field -> family
            "p_value": GaugeMetricFamily(
                "raynomaly_analysis_p_value",
                "Each judge's anytime-valid p-value (running minimum)",
                labels=per,
            ),
            "alpha": GaugeMetricFamily(
                "raynomaly_analysis_alpha",
                "Each judge's share of the rollout's alpha (fails at or below)",
                labels=per,
            ),
            "low": GaugeMetricFamily(
                "raynomaly_analysis_effect_low", "Low end of the effect's interval", labels=per
            ),
            "high": GaugeMetricFamily(
                "raynomaly_analysis_effect_high",
                "High end of the effect's interval (absent: unbounded)",
                labels=per,
            ),
            "samples": GaugeMetricFamily(
                "raynomaly_analysis_samples", "Candidate samples seen in the step", labels=per
            ),
            "needed": GaugeMetricFamily(
                "raynomaly_analysis_needed_samples",
                "Candidate samples to see a regression of twice the floor",
                labels=per,
            ),
        }
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
            verdict = self._store.latest_verdict(rollout.id)
            for m in verdict.measurements if verdict else ():
                if _exported(m.value):
                    value.add_metric([*base, m.name, m.outcome.value], m.value)
                if _exported(m.threshold):
                    threshold.add_metric([*base, m.name], m.threshold)
                for field, family in judged.items():
                    if _exported(figure := getattr(m, field)):
                        family.add_metric([*base, m.name], figure)
        yield from (phase, step, weight, value, threshold, *judged.values())


def _exported(figure: float | None) -> bool:
    """Whether a measurement's figure is a gauge value: an unbounded interval end or an unreachable
    need (infinite) is left out, like a figure never measured."""
    return figure is not None and math.isfinite(figure)
