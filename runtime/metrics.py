"""raynomaly's own Serve metrics, labelled by model, version and role (stable / canary / shadow).

Exported through Ray's metrics endpoint next to Ray Serve's `ray_serve_*` families. Scores are
recorded as their percentile in the version's reference distribution (from the manifest), in
twenty fixed 5% buckets, so the score drift of any detector is measured on the same buckets: a
version that scores like its reference fills every bucket equally. Bucket counts are counters
(one increment per bucket per batch), not per-row histogram observations, to stay off the hot
path of 1,000-row requests.

Each scored feature value is counted in its training-quantile bin (input drift) and, when outside
the training range, as an issue (data quality): a block of counts (one per feature and bin) added
as one NumPy array per batch, expanded into counter increments only at the flush (a few hundred
cells per version and role, every FLUSH_S). The gateway counts the values of the requests it
refuses (missing, not finite) as issues too.

Counter increments are summed in the replica and added to Ray's counters at most every FLUSH_S
(`Tally`): each call into Ray's metrics costs ~3-8 us, and per-request metrics took ~20% of an
inline gateway's single-row throughput (measured: 2,530 vs 3,140 req/s without them). Histograms
(latency, batch size) are observed per request: Ray has no way to add pre-counted buckets.

Names, labels and bucket edges are the contract in `runtime.series`, which the controller reads.
"""

import asyncio
from collections import defaultdict

import numpy as np
from ray.serve.metrics import Counter, Histogram

from runtime.series import (
    AGREE,
    AGREEMENTS,
    ANOMALIES,
    BATCH_SIZE,
    BUCKET_NAMES,
    DISAGREE,
    FEATURE_ISSUES,
    FEATURE_ROWS,
    LATENCY,
    PERCENTILE_EDGES,
    PERCENTILES,
    REFUSED,
    REQUESTS,
    ROWS,
    SHADOW_DROPPED,
    Series,
)

EDGES = np.asarray(PERCENTILE_EDGES)  # searched on every request: converted once
FLUSH_S = 0.5


class Tally:
    """Counter increments summed here and added to Ray's counters FLUSH_S after the first one since
    the last flush (at once outside an event loop)."""

    def __init__(self):
        self._pending: dict[tuple, float] = defaultdict(float)
        self._blocks: dict[tuple, tuple[tuple[tuple[str, ...], ...], np.ndarray]] = {}
        self._scheduled = False

    def add(self, counter: Counter, value: float, keys: tuple[str, ...], values: tuple[str, ...]) -> None:
        """Add `value` to `counter` under the tags `keys` = `values`."""
        self._pending[(counter, keys, values)] += value
        self._schedule()

    def add_block(
        self, counter: Counter, keys: tuple[str, ...], prefix: tuple[str, ...],
        cells: tuple[tuple[str, ...], ...], counts: np.ndarray,
    ) -> None:  # fmt: skip
        """Add `counts[i]` to `counter` under the tags `keys` = `prefix + cells[i]`, for every i: one
        array addition now, one increment per non-zero cell at the flush. The same `prefix` always
        comes with the same `cells`."""
        block = self._blocks.get((counter, keys, prefix))
        if block is None:
            self._blocks[(counter, keys, prefix)] = (cells, counts.astype(np.float64))
        else:
            total = block[1]
            total += counts
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        try:
            asyncio.get_running_loop().call_later(FLUSH_S, self.flush)
            self._scheduled = True
        except RuntimeError:  # no event loop: nothing would flush later
            self.flush()

    def flush(self) -> None:
        """Add every pending sum to its counter."""
        pending, self._pending, self._scheduled = self._pending, defaultdict(float), False
        blocks, self._blocks = self._blocks, {}
        for (counter, keys, values), value in pending.items():
            counter.inc(value, dict(zip(keys, values, strict=True)))
        for (counter, keys, prefix), (cells, counts) in blocks.items():
            for i in np.flatnonzero(counts):
                counter.inc(float(counts[i]), dict(zip(keys, (*prefix, *cells[i]), strict=True)))


def counter(series: Series) -> Counter:
    """The Ray counter that exports `series`."""
    return Counter(series.name, series.description, tag_keys=series.labels)


def histogram(series: Series) -> Histogram:
    """The Ray histogram that exports `series`."""
    return Histogram(series.name, series.description, list(series.buckets), series.labels)


class ScorerMetrics:
    """What a replica that scores (the gateway for inline versions, a dedicated Scorer) records for
    each scored batch; one per replica, shared by its versions."""

    def __init__(self, tally: Tally | None = None):
        self._tally = tally or Tally()
        self.batch_size = histogram(BATCH_SIZE)
        self.rows = counter(ROWS)
        self.anomalies = counter(ANOMALIES)
        self.percentile = counter(PERCENTILES)
        self.feature_rows = counter(FEATURE_ROWS)
        self.feature_issues = counter(FEATURE_ISSUES)

    def record(
        self, model: str, version: int, role: str, percentiles: np.ndarray, labels: np.ndarray
    ) -> None:
        """Count one request's rows, anomalies and percentile buckets."""
        tags = (model, str(version), role)
        self._tally.add(self.rows, len(labels), ROWS.labels, tags)
        anomalies = int(labels.sum())
        if anomalies:
            self._tally.add(self.anomalies, anomalies, ANOMALIES.labels, tags)
        buckets = np.minimum(np.searchsorted(EDGES, percentiles, side="left"), len(EDGES) - 1)
        counted = (
            ((buckets[0], 1),)
            if len(buckets) == 1
            else zip(*np.unique(buckets, return_counts=True), strict=True)
        )
        for bucket, count in counted:
            self._tally.add(self.percentile, int(count), PERCENTILES.labels, (*tags, BUCKET_NAMES[bucket]))

    def record_features(
        self, model: str, version: int, role: str, cells: tuple[tuple[str, str], ...], counts: np.ndarray
    ) -> None:
        """Count one request's rows per (feature, bin) cell: `counts[i]` rows in `cells[i]`."""
        tags = (model, str(version), role)
        self._tally.add_block(self.feature_rows, FEATURE_ROWS.labels, tags, cells, counts)

    def record_issues(
        self, model: str, version: int, cells: tuple[tuple[str, str], ...], counts: np.ndarray
    ) -> None:
        """Count scored rows per (feature, issue) cell, e.g. values out of the training range."""
        tags = (model, str(version))
        self._tally.add_block(self.feature_issues, FEATURE_ISSUES.labels, tags, cells, counts)

    def record_batch(self, model: str, version: int, size: int) -> None:
        """Observe the size of one scored batch."""
        self.batch_size.observe(size, dict(zip(BATCH_SIZE.labels, (model, str(version)), strict=True)))


class GatewayMetrics:
    """What the gateway records for each request it answers or mirrors."""

    def __init__(self, tally: Tally | None = None):
        self._tally = tally or Tally()
        self.requests = counter(REQUESTS)
        self.latency = histogram(LATENCY)
        self._dropped = counter(SHADOW_DROPPED)
        self._refused = counter(REFUSED)
        self.agreement = counter(AGREEMENTS)
        self.feature_issues = counter(FEATURE_ISSUES)

    def record(self, model: str, version: int, role: str, outcome: str, latency_ms: float) -> None:
        """Count one request and observe its latency."""
        tags = (model, str(version), role)
        self._tally.add(self.requests, 1, REQUESTS.labels, (*tags, outcome))
        self.latency.observe(latency_ms, dict(zip(LATENCY.labels, tags, strict=True)))

    def record_dropped(self, model: str, version: int) -> None:
        """Count one shadow copy dropped because too many were in flight."""
        self._tally.add(self._dropped, 1, SHADOW_DROPPED.labels, (model, str(version)))

    def record_refused(self, reason: str) -> None:
        """Count one request refused before routing (`runtime.series` REASON values)."""
        self._tally.add(self._refused, 1, REFUSED.labels, (reason,))

    def record_agreement(self, model: str, version: int, agree: int, disagree: int) -> None:
        """Count one mirrored request's rows by whether the shadow's labels matched the answer."""
        for agreement, rows in ((AGREE, agree), (DISAGREE, disagree)):
            if rows:
                self._tally.add(self.agreement, rows, AGREEMENTS.labels, (model, str(version), agreement))

    def record_issues(self, model: str, version: int, issues: dict[tuple[str, str], int]) -> None:
        """Count the rows of a refused request by (feature, issue): missing or not finite values."""
        for (feature, issue), rows in issues.items():
            if rows:
                tags = (model, str(version), feature, issue)
                self._tally.add(self.feature_issues, rows, FEATURE_ISSUES.labels, tags)
