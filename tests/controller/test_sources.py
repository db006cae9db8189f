"""The metric sources: a direct scrape of the Prometheus text export and an instant query to a
Prometheus server read the same series under the same keys (unit tests against canned answers,
then one real Prometheus scraping a real export)."""

import json
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from controller.sources import PrometheusSource, ScrapeSource, SourceUnavailable, source_for
from controller.sources.prometheus import query_for
from runtime.series import LATENCY_MS
from tests.prometheus import free_port

EXPOSITION = """\
# HELP ray_raynomaly_requests_total Requests by outcome (ok, client_error, server_error)
# TYPE ray_raynomaly_requests_total counter
ray_raynomaly_requests_total{model="fraud",version="1",role="stable",outcome="ok",replica="a"} 5
ray_raynomaly_requests_total{model="fraud",version="2",role="canary",outcome="server_error",replica="b"} 1
ray_raynomaly_requests_total{model="churn",version="1",role="stable",outcome="ok",replica="a"} 7
# HELP ray_raynomaly_request_latency_ms Request latency through the gateway
# TYPE ray_raynomaly_request_latency_ms histogram
ray_raynomaly_request_latency_ms_bucket{model="fraud",version="1",role="stable",replica="a",le="1"} 2
ray_raynomaly_request_latency_ms_bucket{model="fraud",version="1",role="stable",replica="a",le="5.0"} 3
ray_raynomaly_request_latency_ms_bucket{model="fraud",version="1",role="stable",replica="a",le="+Inf"} 5
ray_raynomaly_request_latency_ms_count{model="fraud",version="1",role="stable",replica="a"} 5
ray_raynomaly_request_latency_ms_sum{model="fraud",version="1",role="stable",replica="a"} 12.5
ray_raynomaly_request_latency_ms_bucket{model="churn",version="1",role="stable",replica="a",le="+Inf"} 7
# HELP ray_raynomaly_feature_bin_rows_total Scored rows by training-quantile bin
# TYPE ray_raynomaly_feature_bin_rows_total counter
ray_raynomaly_feature_bin_rows_total{model="fraud",version="2",role="canary",feature="amount",bucket="9"} 4
ray_raynomaly_feature_bin_rows_total{model="churn",version="1",role="stable",feature="amount",bucket="0"} 3
# HELP ray_raynomaly_feature_issue_rows_total Rows with a feature value out of range
# TYPE ray_raynomaly_feature_issue_rows_total counter
ray_raynomaly_feature_issue_rows_total{model="fraud",version="2",feature="amount",issue="out_of_range"} 2
# HELP ray_serve_num_http_requests_total Ray Serve's own count
# TYPE ray_serve_num_http_requests_total counter
ray_serve_num_http_requests_total{model="fraud",version="1"} 99
"""
REQUESTS, LATENCY = "ray_raynomaly_requests_total", "ray_raynomaly_request_latency_ms_bucket"
BINS, ISSUES = "ray_raynomaly_feature_bin_rows_total", "ray_raynomaly_feature_issue_rows_total"
EXPECTED = {
    REQUESTS + '{model="fraud",outcome="ok",replica="a",role="stable",version="1"}': 5.0,
    REQUESTS + '{model="fraud",outcome="server_error",replica="b",role="canary",version="2"}': 1.0,
    LATENCY + '{le="1.0",model="fraud",replica="a",role="stable",version="1"}': 2.0,
    LATENCY + '{le="5.0",model="fraud",replica="a",role="stable",version="1"}': 3.0,
    LATENCY + '{le="+Inf",model="fraud",replica="a",role="stable",version="1"}': 5.0,
    BINS + '{bucket="9",feature="amount",model="fraud",role="canary",version="2"}': 4.0,
    ISSUES + '{feature="amount",issue="out_of_range",model="fraud",version="2"}': 2.0,
}


def served(status: int, body: str, seen: list | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, text=body)

    return httpx.MockTransport(handler)


def unused_url(path: str = "") -> str:
    return f"http://127.0.0.1:{free_port()}{path}"


# ScrapeSource


def test_scrape_keys_the_models_series_and_drops_the_rest():
    source = ScrapeSource("http://ray:8080/metrics", transport=served(200, EXPOSITION))
    assert source.snapshot("fraud") == EXPECTED
    assert source_for("scrape", "http://ray:8080/metrics").name == "scrape"


def test_scrape_of_an_unreachable_export_is_unavailable():
    with pytest.raises(SourceUnavailable, match="cannot scrape"):
        ScrapeSource(unused_url("/metrics")).snapshot("fraud")


@pytest.mark.parametrize("status, body", [(200, "<html><body>Not metrics</body></html>"), (500, "boom")])
def test_scrape_of_anything_but_prometheus_text_is_unavailable(status, body):
    with pytest.raises(SourceUnavailable):
        ScrapeSource("http://ray:8080/metrics", transport=served(status, body)).snapshot("fraud")


# PrometheusSource


def vector(*series: tuple[dict[str, str], float]) -> str:
    result = [{"metric": labels, "value": [1700000000.123, f"{value:g}"]} for labels, value in series]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


def test_promql_selects_every_family_of_one_model():
    assert query_for("fraud") == (
        '{__name__=~"ray_raynomaly_requests_total|ray_raynomaly_request_latency_ms_bucket'
        "|ray_raynomaly_scored_rows_total|ray_raynomaly_anomalies_total"
        "|ray_raynomaly_score_percentile_rows_total|ray_raynomaly_shadow_agreement_rows_total"
        '|ray_raynomaly_feature_bin_rows_total|ray_raynomaly_feature_issue_rows_total",model="fraud"}'
    )


def test_prometheus_keys_like_the_scrape_without_target_labels():
    fraud = {"model": "fraud", "version": "1", "role": "stable"}
    target = {"instance": "10.0.0.7:8080", "job": "ray"}
    requests = {"__name__": REQUESTS, **fraud, **target}
    latency = {"__name__": LATENCY, **fraud, "replica": "a", **target}
    body = vector(
        ({**requests, "outcome": "ok", "replica": "a"}, 5),
        ({**requests, "version": "2", "role": "canary", "outcome": "server_error", "replica": "b"}, 1),
        ({**latency, "le": "1.0"}, 2),  # as Prometheus 3 stores Ray's le="1"
        ({**latency, "le": "5.0"}, 3),
        ({**latency, "le": "+Inf"}, 5),
        ({"__name__": BINS, **fraud, "version": "2", "role": "canary", "feature": "amount", "bucket": "9",
          **target}, 4),
        ({"__name__": ISSUES, "model": "fraud", "version": "2", "feature": "amount",
          "issue": "out_of_range", **target}, 2),
    )  # fmt: skip
    seen: list[httpx.Request] = []
    source = PrometheusSource("http://prometheus:9090/", transport=served(200, body, seen))
    assert source.snapshot("fraud") == EXPECTED
    assert seen[0].url.path == "/api/v1/query" and seen[0].url.params["query"] == query_for("fraud")


def test_prometheus_adds_series_that_differ_only_by_target():
    rows = {"__name__": "ray_raynomaly_scored_rows_total", "model": "fraud", "version": "1", "role": "stable"}
    body = vector(
        ({**rows, "instance": "a:1", "job": "ray"}, 10), ({**rows, "instance": "b:1", "job": "ray"}, 5)
    )
    source = PrometheusSource("http://prometheus:9090", transport=served(200, body))
    assert source.snapshot("fraud") == {
        'ray_raynomaly_scored_rows_total{model="fraud",role="stable",version="1"}': 15.0
    }


def test_empty_label_values_key_alike():
    """Ray's OpenTelemetry export labels every series `otel_scope_version=""` (and schema URL); a
    Prometheus server stores an empty label as no label (checked against Prometheus 2.42)."""
    text = """\
# TYPE ray_raynomaly_scored_rows_total counter
ray_raynomaly_scored_rows_total{model="fraud",version="1",role="stable",otel_scope_name="ray",\
otel_scope_version="",otel_scope_schema_url=""} 10
"""
    stored = {"__name__": "ray_raynomaly_scored_rows_total", "model": "fraud", "version": "1",
              "role": "stable", "otel_scope_name": "ray", "instance": "a:1", "job": "ray"}  # fmt: skip
    scraped = ScrapeSource("http://ray:8080/metrics", transport=served(200, text)).snapshot("fraud")
    queried = PrometheusSource("http://prometheus:9090", transport=served(200, vector((stored, 10))))
    assert scraped == queried.snapshot("fraud")


@pytest.mark.parametrize(
    "status, body",
    [
        (200, json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"})),
        (400, json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"})),
        (200, json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}})),
        (200, "<html>not an API</html>"),
        (503, "Service Unavailable"),
    ],
)
def test_prometheus_errors_are_unavailable(status, body):
    with pytest.raises(SourceUnavailable):
        PrometheusSource("http://prometheus:9090", transport=served(status, body)).snapshot("fraud")


# One real Prometheus server scraping a real export


@pytest.fixture
def export():
    """A Prometheus text export on 127.0.0.1 of the gateway's two families, as named in Ray's export
    (prometheus_client appends `_total` to counters and `_bucket` to histogram buckets)."""
    registry = CollectorRegistry()
    labels = ["model", "version", "role"]
    requests = Counter(
        "ray_raynomaly_requests", "Requests by outcome", [*labels, "outcome"], registry=registry
    )
    latency = Histogram("ray_raynomaly_request_latency_ms", "Request latency through the gateway", labels,
                        buckets=LATENCY_MS, registry=registry)  # fmt: skip
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{port}", requests, latency
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


SERVED = [("fraud", "1", "stable"), ("fraud", "2", "canary"), ("churn", "1", "stable")]


def traffic(requests: Counter, latency: Histogram, n: int) -> None:
    """`n` requests to each served (model, version, role); every seventh a server error."""
    for i in range(n):
        for model, version, role in SERVED:
            outcome = "server_error" if i % 7 == 0 else "ok"
            requests.labels(model, version, role, outcome).inc()
            latency.labels(model, version, role).observe(0.3 + (i * 37 % 6000))


def wait_equal(prometheus: PrometheusSource, scrape: ScrapeSource, timeout_s: float = 10.0) -> dict:
    """Poll until both sources read the same snapshot (Prometheus lags its scrapes by up to 1 s)."""
    deadline = time.monotonic() + timeout_s
    while True:
        via_prometheus, direct = prometheus.snapshot("fraud"), scrape.snapshot("fraud")
        if via_prometheus == direct or time.monotonic() > deadline:
            assert via_prometheus == direct
            return direct
        time.sleep(0.2)


@pytest.mark.integration
def test_prometheus_reads_what_the_scrape_reads(export, prometheus_server):
    target, requests, latency = export
    traffic(requests, latency, 20)
    prometheus = prometheus_server([target])
    prometheus.wait_for_scrape(min_samples=1, timeout_s=20)
    via_prometheus, scrape = PrometheusSource(prometheus.url), ScrapeSource(f"http://{target}/metrics")

    first = wait_equal(via_prometheus, scrape)
    assert first['ray_raynomaly_requests_total{model="fraud",outcome="ok",role="stable",version="1"}'] == 17.0
    assert (
        first['ray_raynomaly_request_latency_ms_bucket{le="+Inf",model="fraud",role="canary",version="2"}']
        == 20
    )
    assert len(first) == 2 * (2 + len(LATENCY_MS) + 1) and not any('model="churn"' in k for k in first)

    traffic(requests, latency, 30)
    prometheus.wait_for_scrape(after=time.time(), timeout_s=10)
    second = wait_equal(via_prometheus, scrape)
    assert (
        second['ray_raynomaly_request_latency_ms_bucket{le="+Inf",model="fraud",role="canary",version="2"}']
        == 50
    )


def test_prometheus_where_nothing_listens_is_unavailable():
    with pytest.raises(SourceUnavailable, match="cannot query Prometheus"):
        PrometheusSource(unused_url()).snapshot("fraud")
