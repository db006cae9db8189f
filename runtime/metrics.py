"""raynomaly's own Serve metrics, labelled by model, version and role (stable / canary / shadow).

Exported through Ray's metrics endpoint next to Ray Serve's `ray_serve_*` families. Scores are
recorded as their percentile in the version's reference distribution (from the manifest), in
twenty fixed 5% buckets, so the score drift of any detector is measured on the same buckets: a
version that scores like its reference fills every bucket equally. Bucket counts are counters
(one increment per bucket per batch), not per-row histogram observations, to stay off the hot
path of 1,000-row requests.
"""

import numpy as np
from ray.serve.metrics import Counter, Histogram

PERCENTILE_EDGES = np.round(np.linspace(0.05, 1.0, 20), 2)
LATENCY_MS = [0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000]
BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536]
VERSION_TAGS = ("model", "version", "role")


class ScorerMetrics:
    """What a replica that scores (the gateway for inline versions, a dedicated Scorer) records for
    each scored batch; one per replica, shared by its versions."""

    def __init__(self):
        self.batch_size = Histogram(
            "raynomaly_batch_size",
            "Rows per scored batch",
            boundaries=BATCH_SIZES,
            tag_keys=("model", "version"),
        )
        self.rows = Counter("raynomaly_scored_rows", "Rows scored", tag_keys=VERSION_TAGS)
        self.anomalies = Counter(
            "raynomaly_anomalies", "Rows scored above the threshold", tag_keys=VERSION_TAGS
        )
        self.percentile = Counter(
            "raynomaly_score_percentile_rows",
            "Rows by their score's percentile in the version's reference distribution (upper bucket edge)",
            tag_keys=(*VERSION_TAGS, "bucket"),
        )

    def record(
        self, model: str, version: int, role: str, percentiles: np.ndarray, labels: np.ndarray
    ) -> None:
        """Count one request's rows, anomalies and percentile buckets."""
        tags = {"model": model, "version": str(version), "role": role}
        self.rows.inc(len(labels), tags)
        anomalies = int(labels.sum())
        if anomalies:
            self.anomalies.inc(anomalies, tags)
        counts = np.bincount(np.searchsorted(PERCENTILE_EDGES, percentiles, side="left"), minlength=20)
        for edge, count in zip(PERCENTILE_EDGES, counts[:20], strict=True):
            if count:
                self.percentile.inc(int(count), {**tags, "bucket": f"{edge:.2f}"})

    def record_batch(self, model: str, version: int, size: int) -> None:
        """Observe the size of one scored batch."""
        self.batch_size.observe(size, {"model": model, "version": str(version)})


class GatewayMetrics:
    """What the gateway records for each request it answers or mirrors."""

    def __init__(self):
        self.requests = Counter(
            "raynomaly_requests",
            "Requests by outcome (ok, client_error, server_error)",
            (*VERSION_TAGS, "outcome"),
        )
        self.latency = Histogram(
            "raynomaly_request_latency_ms", "Request latency through the gateway", LATENCY_MS, VERSION_TAGS
        )
        self.shadow_dropped = Counter(
            "raynomaly_shadow_dropped",
            "Shadow copies dropped because too many were in flight",
            ("model", "version"),
        )
        self.agreement = Counter(
            "raynomaly_shadow_agreement_rows",
            "Shadow rows whose label agreed (or not) with the answering version's label",
            ("model", "version", "agreement"),
        )

    def record(self, model: str, version: int, role: str, outcome: str, latency_ms: float) -> None:
        """Count one request and observe its latency."""
        tags = {"model": model, "version": str(version), "role": role}
        self.requests.inc(1, {**tags, "outcome": outcome})
        self.latency.observe(latency_ms, tags)

    def record_agreement(self, model: str, version: int, agree: int, disagree: int) -> None:
        """Count one mirrored request's rows by whether the shadow's labels matched the answer."""
        tags = {"model": model, "version": str(version)}
        if agree:
            self.agreement.inc(agree, {**tags, "agreement": "agree"})
        if disagree:
            self.agreement.inc(disagree, {**tags, "agreement": "disagree"})
