"""Windows of live traffic: the difference of two snapshots of the runtime's counters, summed per
version (pure).

A snapshot maps each exported series (name plus labels, `replica` included) to its cumulative
value at one instant. The window is the per-series increase between two snapshots; a series that
went down restarted (a new replica process) and counts from zero, as Prometheus's `increase` does.
Both metric sources produce the same snapshots, so they reach the same verdicts.
"""

import math
import re
from dataclasses import dataclass, field

import numpy as np
from prometheus_client.utils import floatToGoString

from controller.analysis.stats import psi, quantile
from runtime.series import (
    AGREE,
    AGREEMENT,
    AGREEMENTS,
    ANALYSED,
    ANOMALIES,
    BUCKET,
    BUCKET_NAMES,
    FEATURE,
    FEATURE_ISSUES,
    FEATURE_ROWS,
    ISSUE,
    LATENCY,
    OUTCOME,
    PERCENTILES,
    REQUESTS,
    ROWS,
    SERVER_ERROR,
    VERSION,
    Series,
)

FAMILIES: dict[str, Series] = {series.sample: series for series in ANALYSED}
"""The sample names the analysis reads, and the series each belongs to."""
TARGET_LABELS = frozenset({"instance", "job"})
"""Labels a Prometheus server adds for its scrape target: dropped so both sources key alike."""
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Snapshot = dict[str, float]


def series_key(name: str, labels: dict[str, str]) -> str:
    """`name{a="1",b="2"}` with labels sorted, target and empty labels dropped (Prometheus treats
    an empty label as absent) and `le` normalised."""
    kept = sorted(
        (k, _bound(v) if k == "le" else v) for k, v in labels.items() if k not in TARGET_LABELS and v != ""
    )
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in kept) + "}"


def _bound(le: str) -> str:
    """A bucket bound as Prometheus 3 ingests it, whatever the exporter wrote: `1` -> `1.0`,
    `1e3` -> `1000.0`, `inf` -> `+Inf` (Ray's export writes integer bounds as `1`; Prometheus 2
    keeps them, Prometheus 3 stores `1.0`)."""
    try:
        return floatToGoString(float(le))
    except ValueError:
        return le


def parse_key(key: str) -> tuple[str, dict[str, str]]:
    """Inverse of `series_key`."""
    name, _, rest = key.partition("{")
    return name, dict(_LABEL.findall(rest))


def increase(base: Snapshot, now: Snapshot) -> Snapshot:
    """Per-series increase from `base` to `now` (pure); a series that fell restarted from zero."""
    window = {}
    for key, value in now.items():
        before = base.get(key, 0.0)
        window[key] = value - before if value >= before else value
    return window


def accumulate(evidence: Snapshot, window: Snapshot) -> Snapshot:
    """`evidence` with a window's increases added, series by series (pure)."""
    total = dict(evidence)
    for key, value in window.items():
        total[key] = total.get(key, 0.0) + value
    return total


@dataclass
class VersionWindow:
    """One version's traffic in a window, summed over replicas and roles."""

    requests: float = 0.0
    server_errors: float = 0.0
    latency_bounds: list[float] = field(default_factory=list)
    latency_cumulative: list[float] = field(default_factory=list)
    rows: float = 0.0
    anomalies: float = 0.0
    percentiles: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKET_NAMES)))
    agree: float = 0.0
    disagree: float = 0.0
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    """Rows per feature and training-quantile bin ("0", "1", ...): the input drift."""
    issues: dict[str, dict[str, float]] = field(default_factory=dict)
    """Rows per feature and data-quality issue (out_of_range, missing, non_finite)."""

    @property
    def error_rate(self) -> float | None:
        return self.server_errors / self.requests if self.requests else None

    @property
    def anomaly_rate(self) -> float | None:
        return self.anomalies / self.rows if self.rows else None


def summarise(window: Snapshot) -> dict[int, VersionWindow]:
    """The window's series summed per version (pure)."""
    versions: dict[int, VersionWindow] = {}
    latency: dict[int, dict[float, float]] = {}
    buckets = {name: i for i, name in enumerate(BUCKET_NAMES)}
    for key, value in window.items():
        name, labels = parse_key(key)
        series = FAMILIES.get(name)
        if series is None or not labels.get(VERSION, "").isdigit():
            continue
        version = int(labels[VERSION])
        summary = versions.setdefault(version, VersionWindow())
        if series is REQUESTS:
            summary.requests += value
            summary.server_errors += value if labels.get(OUTCOME) == SERVER_ERROR else 0.0
        elif series is LATENCY:
            bound = math.inf if labels["le"] in ("+Inf", "inf") else float(labels["le"])
            per_bound = latency.setdefault(version, {})
            per_bound[bound] = per_bound.get(bound, 0.0) + value
        elif series is ROWS:
            summary.rows += value
        elif series is ANOMALIES:
            summary.anomalies += value
        elif series is PERCENTILES and labels.get(BUCKET) in buckets:
            summary.percentiles[buckets[labels[BUCKET]]] += value
        elif series is FEATURE_ROWS and FEATURE in labels and BUCKET in labels:
            _add(summary.features, labels[FEATURE], labels[BUCKET], value)
        elif series is FEATURE_ISSUES and FEATURE in labels and ISSUE in labels:
            _add(summary.issues, labels[FEATURE], labels[ISSUE], value)
        elif series is AGREEMENTS:
            if labels.get(AGREEMENT) == AGREE:
                summary.agree += value
            else:
                summary.disagree += value
    for version, per_bound in latency.items():
        bounds = sorted(per_bound)
        versions[version].latency_bounds = bounds
        versions[version].latency_cumulative = [per_bound[b] for b in bounds]
    return versions


def _add(cells: dict[str, dict[str, float]], feature: str, cell: str, value: float) -> None:
    per_feature = cells.setdefault(feature, {})
    per_feature[cell] = per_feature.get(cell, 0.0) + value


def describe(windows: dict[int, VersionWindow]) -> dict[str, dict]:
    """Per-version figures of a window for records and plots (pure): requests, p50/p99 ms, error and
    anomaly rates, rows, PSI against the reference."""
    figures = {}
    for version, w in sorted(windows.items()):
        figures[str(version)] = {
            "requests": w.requests,
            "p50_ms": quantile(0.5, w.latency_bounds, w.latency_cumulative),
            "p99_ms": quantile(0.99, w.latency_bounds, w.latency_cumulative),
            "error_rate": w.error_rate,
            "rows": w.rows,
            "anomaly_rate": w.anomaly_rate,
            "psi_reference": psi(w.percentiles, np.ones(len(w.percentiles))) if w.rows else None,
        }
    return figures
