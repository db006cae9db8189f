"""The metric contract between the data plane and the control plane: every series the runtime
exports, with its labels, the label values the analysis reads and its bucket edges, named once.

`runtime.metrics` registers these, the metric sources select and `controller.analysis.window` sums
them, and the test doubles fake them. Standard library only, so the controller and its command line
import it without Ray, numpy or prometheus_client.
"""

from dataclasses import dataclass

EXPORT_PREFIX = "ray_"
"""Ray's metrics export prefixes every application metric's name."""

MODEL, VERSION, ROLE = "model", "version", "role"
VERSION_LABELS = (MODEL, VERSION, ROLE)
OUTCOME, BUCKET, AGREEMENT, REASON = "outcome", "bucket", "agreement", "reason"
FEATURE, ISSUE = "feature", "issue"

OK, CLIENT_ERROR, SERVER_ERROR = "ok", "client_error", "server_error"
"""Values of OUTCOME: only a server error counts against a version."""
UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED = "unauthenticated", "forbidden", "rate_limited"
"""Values of REASON: why the gateway refused a request before routing it."""
AGREE, DISAGREE = "agree", "disagree"
"""Values of AGREEMENT: whether a shadow row's label matched the answering version's."""

PERCENTILE_EDGES = tuple(edge / 100 for edge in range(5, 101, 5))
"""Upper edges of the twenty score-percentile buckets: a score's percentile in the version's
reference distribution, so a version that scores like its reference fills every bucket equally."""
BUCKET_NAMES = tuple(f"{edge:.2f}" for edge in PERCENTILE_EDGES)
"""Values of BUCKET, one per edge."""
LATENCY_MS = (
    0.1, 0.12, 0.13, 0.15, 0.18, 0.2, 0.23, 0.27, 0.31, 0.35, 0.41, 0.47, 0.5, 0.57, 0.66, 0.76, 0.87,
    1.0, 1.2, 1.3, 1.5, 1.8, 2.0, 2.3, 2.7, 3.1, 3.5, 4.1, 4.7, 5.4, 6.2, 7.1, 8.1, 9.4, 11, 12, 14, 16,
    19, 22, 25, 29, 33, 38, 43, 50, 57, 66, 76, 87, 100, 120, 130, 150, 180, 200, 230, 270, 310, 350,
    410, 470, 540, 620, 710, 810, 940, 1100, 1200, 1400, 1600, 1900, 2200, 2500, 2900, 3300, 3800,
    4300, 5000,
)  # fmt: skip
"""About 1.15x apart (two significant digits), from 0.1 ms (an inline single-row answer takes a few
tenths of a millisecond inside the gateway): the rollout judges bound latency quantiles by bucket
edges, each side losing up to a bucket, so a coarser grid (it was ~1.5x) would hide a 2x regression
against a 1.5x floor."""
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536)


@dataclass(frozen=True)
class Series:
    """One exported metric as the runtime registers it: name, kind, label names, bucket edges."""

    name: str
    kind: str
    """"counter" or "histogram"."""
    labels: tuple[str, ...]
    description: str
    buckets: tuple[float, ...] = ()
    """A histogram's upper bucket edges (+Inf is implied)."""

    @property
    def sample(self) -> str:
        """The sample that carries the counts, as scraped: a counter's `_total`, a histogram's `_bucket`."""
        return f"{EXPORT_PREFIX}{self.name}{'_total' if self.kind == 'counter' else '_bucket'}"

    @property
    def samples(self) -> tuple[str, ...]:
        """Every sample name the export writes for this metric."""
        if self.kind == "counter":
            return (self.sample,)
        return tuple(f"{EXPORT_PREFIX}{self.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))


REQUESTS = Series(
    "raynomaly_requests", "counter", (*VERSION_LABELS, OUTCOME),
    "Requests by outcome (ok, client_error, server_error)",
)  # fmt: skip
LATENCY = Series(
    "raynomaly_request_latency_ms", "histogram", VERSION_LABELS, "Request latency through the gateway",
    LATENCY_MS,
)  # fmt: skip
ROWS = Series("raynomaly_scored_rows", "counter", VERSION_LABELS, "Rows scored")
ANOMALIES = Series("raynomaly_anomalies", "counter", VERSION_LABELS, "Rows scored above the threshold")
PERCENTILES = Series(
    "raynomaly_score_percentile_rows", "counter", (*VERSION_LABELS, BUCKET),
    "Rows by their score's percentile in the version's reference distribution (upper bucket edge)",
)  # fmt: skip
AGREEMENTS = Series(
    "raynomaly_shadow_agreement_rows", "counter", (MODEL, VERSION, AGREEMENT),
    "Shadow rows whose label agreed (or not) with the answering version's label",
)  # fmt: skip
BATCH_SIZE = Series(
    "raynomaly_batch_size", "histogram", (MODEL, VERSION), "Rows per scored batch", BATCH_SIZES
)
SHADOW_DROPPED = Series(
    "raynomaly_shadow_dropped", "counter", (MODEL, VERSION),
    "Shadow copies dropped because too many were in flight",
)  # fmt: skip

FEATURE_BIN_COUNT = 10
"""Quantile bins of a feature's training values: a feature served like its training data fills each
of them equally (one tenth)."""
FEATURE_BUCKET_NAMES = tuple(str(b) for b in range(FEATURE_BIN_COUNT))
"""Values of BUCKET for FEATURE_ROWS: the bin's index, 0 (below the training decile 1) .. 9. A
feature with tied deciles (constant, or mostly one value) has fewer bins: 0 .. its distinct deciles."""
OUT_OF_RANGE, MISSING, NON_FINITE = "out_of_range", "missing", "non_finite"
"""Values of ISSUE: a value outside the training minimum..maximum (scored), a named feature the
request left out, a NaN or infinite value (both refused)."""
FEATURE_ROWS = Series(
    "raynomaly_feature_bin_rows", "counter", (*VERSION_LABELS, FEATURE, BUCKET),
    "Scored rows by the training-quantile bin each feature's value falls in (input drift)",
)  # fmt: skip
FEATURE_ISSUES = Series(
    "raynomaly_feature_issue_rows", "counter", (MODEL, VERSION, FEATURE, ISSUE),
    "Rows with a feature value out of the training range, missing or not finite (data quality)",
)  # fmt: skip

REFUSED = Series(
    "raynomaly_refused_requests", "counter", (REASON,),
    "Requests refused before routing: no or bad token, a model the token may not score, over quota",
)  # fmt: skip

ANALYSED = (REQUESTS, LATENCY, ROWS, ANOMALIES, PERCENTILES, AGREEMENTS, FEATURE_ROWS, FEATURE_ISSUES)
"""What the rollout analysis and `raynomaly monitor` read, so what a metric source selects."""
EXPORTED = (*ANALYSED, BATCH_SIZE, SHADOW_DROPPED, REFUSED)
"""Everything the runtime exports (dashboards read the rest)."""
