"""Windows from snapshots: per-series increase (with restarts) summed per version."""

import pytest

from controller.analysis.window import increase, parse_key, series_key, summarise


def key(name, **labels):
    return series_key(name, labels)


def test_keys_drop_target_labels_and_round_trip():
    k = series_key(
        "ray_raynomaly_requests_total", {"version": "2", "instance": "x:1", "job": "ray", "model": "m"}
    )
    assert k == 'ray_raynomaly_requests_total{model="m",version="2"}'
    assert parse_key(k) == ("ray_raynomaly_requests_total", {"model": "m", "version": "2"})


def test_increase_counts_a_restarted_series_from_zero():
    a, b = key("c", replica="a"), key("c", replica="b")
    assert increase({a: 10.0, b: 5.0}, {a: 15.0, b: 2.0, key("c", replica="new"): 3.0}) == {
        a: 5.0, b: 2.0, key("c", replica="new"): 3.0,
    }  # fmt: skip


def test_summarise_adds_replicas_and_roles_per_version():
    requests = "ray_raynomaly_requests_total"
    window = {
        key(requests, version="1", role="stable", outcome="ok", replica="a"): 90.0,
        key(requests, version="1", role="stable", outcome="ok", replica="b"): 10.0,
        key(requests, version="1", role="stable", outcome="server_error", replica="a"): 2.0,
        key(requests, version="2", role="shadow", outcome="ok", replica="a"): 40.0,
        key("ray_raynomaly_request_latency_ms_bucket", version="2", le="5.0", replica="a"): 30.0,
        key("ray_raynomaly_request_latency_ms_bucket", version="2", le="+Inf", replica="a"): 40.0,
        key("ray_raynomaly_score_percentile_rows_total", version="2", bucket="0.05", role="shadow"): 7.0,
        key("ray_raynomaly_shadow_agreement_rows_total", version="2", agreement="agree"): 30.0,
        key("ray_raynomaly_shadow_agreement_rows_total", version="2", agreement="disagree"): 10.0,
        key("ray_serve_num_http_requests_total", version="1"): 999.0,
    }
    versions = summarise(window)
    assert versions[1].requests == 102.0 and versions[1].server_errors == 2.0
    assert versions[1].error_rate == pytest.approx(2 / 102)
    assert versions[2].latency_cumulative == [30.0, 40.0] and versions[2].latency_bounds[-1] == float("inf")
    assert versions[2].percentiles[0] == 7.0
    assert (versions[2].agree, versions[2].disagree) == (30.0, 10.0)


def test_summarise_adds_feature_bins_and_issues_per_version_over_replicas_and_roles():
    bins, issues = "ray_raynomaly_feature_bin_rows_total", "ray_raynomaly_feature_issue_rows_total"
    window = {
        key(bins, version="2", role="canary", feature="flow", bucket="0", replica="a"): 30.0,
        key(bins, version="2", role="canary", feature="flow", bucket="0", replica="b"): 12.0,
        key(bins, version="2", role="shadow", feature="flow", bucket="0", replica="a"): 8.0,
        key(bins, version="2", role="canary", feature="flow", bucket="9", replica="a"): 5.0,
        key(bins, version="1", role="stable", feature="flow", bucket="9", replica="a"): 7.0,
        key(issues, version="2", feature="flow", issue="out_of_range", replica="a"): 3.0,
        key(issues, version="2", feature="flow", issue="out_of_range", replica="b"): 1.0,
        key(issues, version="2", feature="pressure", issue="missing", replica="a"): 2.0,
    }
    versions = summarise(window)
    assert versions[2].features == {"flow": {"0": 50.0, "9": 5.0}}
    assert versions[2].issues == {"flow": {"out_of_range": 4.0}, "pressure": {"missing": 2.0}}
    assert versions[1].features == {"flow": {"9": 7.0}} and versions[1].issues == {}
