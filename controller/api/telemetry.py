"""The controller's own Prometheus metrics: each rollout's phase, step and weights, and every
analysis value of its latest look next to its threshold, so users can see what was judged; for the
sequential judges also the p-value and its alpha share, the effect's interval and the samples seen
and needed (graph `raynomaly_analysis_p_value / raynomaly_analysis_alpha` falling toward 1); and
whether the audit log's chain verifies."""

import math
import threading
import time
from collections.abc import Callable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from controller.rollouts.spec import Phase
from controller.store.spec import RolloutStore

RECENT = 50
"""Finished rollouts still exported (besides every active one)."""
AUDIT_EVERY_S = 60.0
"""How often a scrape may verify the audit chain; scrapes in between read the last result."""
AUDIT_FULL_EVERY_S = 3600.0
"""How often that check verifies the whole log rather than what was added since the last one (an
edit before the last verified entry shows only on a whole-log check)."""


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


class AuditCollector(Collector):
    """`raynomaly_audit_chain_valid`: 1 while the audit log's chain verifies, 0 once it does not.
    Verified at most once per `every_s` (from the last verified entry on; the whole log once per
    `full_every_s`); a scrape in between answers the cached result, so scrapes stay cheap however
    often they come. Create one per controller and register it with each scrape's registry."""

    def __init__(
        self,
        store: RolloutStore,
        every_s: float = AUDIT_EVERY_S,
        full_every_s: float = AUDIT_FULL_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._store, self._every_s, self._full_every_s, self._clock = store, every_s, full_every_s, clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._full_at: float | None = None
        self._valid = True

    def valid(self) -> bool:
        """Whether the chain verified when last checked, checking again once `every_s` has passed."""
        with self._lock:
            now = self._clock()
            if self._checked_at is None or now - self._checked_at >= self._every_s:
                full = self._full_at is None or now - self._full_at >= self._full_every_s
                self._valid = self._store.verify_audit(full=full).broken_at is None
                self._checked_at = now
                self._full_at = now if full else self._full_at
            return self._valid

    def collect(self):
        chain = GaugeMetricFamily(
            "raynomaly_audit_chain_valid",
            f"1 while the audit log's chain verifies, 0 once an entry was edited, removed or reordered "
            f"(checked at most every {self._every_s:g} s)",
        )
        chain.add_metric([], float(self.valid()))
        yield chain
