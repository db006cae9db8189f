"""Faithful doubles of the controller's seams: a target that records every table it is given and
a metric source that serves the counters of simulated traffic."""

import math

from controller.analysis.window import Snapshot, series_key
from controller.sources.spec import SourceUnavailable
from controller.targets.spec import Served, TargetError, Waiting
from runtime.series import (
    AGREE,
    AGREEMENT,
    AGREEMENTS,
    ANOMALIES,
    BUCKET,
    BUCKET_NAMES,
    LATENCY,
    MODEL,
    OK,
    OUTCOME,
    PERCENTILES,
    REQUESTS,
    ROWS,
    VERSION,
)
from runtime.traffic import ModelTraffic


class TargetDouble:
    """Applies instantly; while `busy` names a reason (a cluster upgrade, say) it refuses changes
    with Waiting and reports that reason as not ready; while `down` names one, every change fails
    with TargetError."""

    name = "double"

    def __init__(self, traffic: ModelTraffic | None):
        self.traffic, self.options, self.applied = traffic, {}, []
        self.crash_on_apply = False
        self.busy: str | None = None
        self.down: str | None = None

    def served(self, model: str) -> Served:
        return Served(self.traffic, dict(self.options))

    def apply(self, model, traffic, options) -> None:
        if self.crash_on_apply:
            raise Killed("controller killed between recording and applying")
        if self.busy is not None:
            raise Waiting(f"weights wait: {self.busy}")
        if self.down is not None:
            raise TargetError(self.down)
        self.traffic = traffic
        self.options |= options
        self.applied.append(None if traffic is None else (dict(traffic.weights), dict(traffic.shadows)))

    def readiness(self, model: str) -> str | None:
        return self.busy


class ClusterDouble(TargetDouble):
    """A target with a cluster (like KubeRay): `upgrade` records each change and, like KubeRay,
    is busy with it for `upgrade_applies` further applies."""

    def __init__(self, traffic: ModelTraffic | None, cluster, upgrade_applies: int = 2):
        super().__init__(traffic)
        self.cluster, self.upgrades, self._upgrade_applies, self._left = cluster, [], upgrade_applies, 0

    def served(self, model: str) -> Served:
        return Served(self.traffic, dict(self.options), self.cluster)

    def upgrade(self, change) -> None:
        if change != self.cluster:
            self.cluster, self._left = change, self._upgrade_applies
            self.upgrades.append(change.image)
            self.busy = f"UpgradeInProgress to {change.image}"

    def apply(self, model, traffic, options) -> None:
        if self._left:
            self._left -= 1
            self.busy = None if self._left == 0 else self.busy
        super().apply(model, traffic, options)


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the controller catches it."""


class TrafficSource:
    """Cumulative counters of traffic split by the target's current table: each `advance(seconds)`
    adds `rate` requests per second with the given per-version latency."""

    name = "double"

    def __init__(self, target: TargetDouble, latency_ms: dict[int, float], rate: float = 100.0):
        self.target, self.latency_ms, self.rate = target, latency_ms, rate
        self.counters: Snapshot = {}
        self.down = False

    def advance(self, seconds: float) -> None:
        traffic = self.target.traffic
        if traffic is None:
            return
        for version, weight in traffic.weights.items():
            self._add(version, self.rate * seconds * weight / 100)
        for version, percent in traffic.shadows.items():
            self._add(version, self.rate * seconds * percent / 100)
            key = series_key(AGREEMENTS.sample, {MODEL: "fraud", VERSION: str(version), AGREEMENT: AGREE})
            self.counters[key] = self.counters.get(key, 0.0) + self.rate * seconds * percent / 10

    def _add(self, version: int, requests: float) -> None:
        def bump(series, value, labels=None):
            key = series_key(series.sample, {MODEL: "fraud", VERSION: str(version), **(labels or {})})
            self.counters[key] = self.counters.get(key, 0.0) + value

        bump(REQUESTS, requests, {OUTCOME: OK})
        for bound in [*LATENCY.buckets, math.inf]:  # every bucket, empty ones too, as Ray exports them
            below = bound >= self.latency_ms[version]
            bump(LATENCY, requests if below else 0.0, {"le": str(bound)})
        bump(ROWS, requests * 10)
        bump(ANOMALIES, requests)
        for bucket in BUCKET_NAMES:
            bump(PERCENTILES, requests / 2, {BUCKET: bucket})

    def snapshot(self, model: str) -> Snapshot:
        if self.down:
            raise SourceUnavailable("connection refused")
        return dict(self.counters)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
