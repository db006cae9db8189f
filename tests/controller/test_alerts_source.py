"""The alerts a promotion's soak reads: a real Prometheus evaluating a rule about one version, and
its failures as SourceUnavailable."""

import time

import httpx
import pytest

from controller.sources.alerts import NoAlerts, PrometheusAlerts, alerts_for
from controller.sources.spec import SourceUnavailable
from tests.prometheus import PrometheusServer

RULES = """
groups:
  - name: soak
    rules:
      - alert: RaynomalyScoreDrift
        expr: vector(1)
        labels: {model: fraud, version: "2", severity: page}
"""


@pytest.mark.integration
def test_an_alert_firing_about_the_version_is_seen_and_others_are_not(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    with PrometheusServer(["127.0.0.1:1"], rule_files=[rules]) as prometheus:
        source, since = PrometheusAlerts(prometheus.url), time.time()
        deadline, fired = time.monotonic() + 30, []
        while not fired and time.monotonic() < deadline:
            time.sleep(1.0)
            fired = source.fired("fraud", 2, since - 60, time.time())
        assert [(a.name, a.model, a.version) for a in fired] == [("RaynomalyScoreDrift", "fraud", 2)]
        assert since - 60 <= fired[0].at <= time.time()
        assert source.fired("fraud", 3, since - 60, time.time()) == []
        assert source.fired("churn", 2, since - 60, time.time()) == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(503, {"status": "error", "error": "overloaded"}, id="server-error"),
        pytest.param(200, {"status": "error", "error": "bad query"}, id="query-error"),
        pytest.param(200, {"status": "success", "data": {"resultType": "vector", "result": []}},
                     id="not-a-range"),
    ],
)  # fmt: skip
def test_prometheus_failures_are_unavailable(status, body):
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    with pytest.raises(SourceUnavailable, match="Prometheus at http://prom"):
        PrometheusAlerts("http://prom", transport=transport).fired("fraud", 2, 0.0, 100.0)


def test_the_range_query_names_the_version_and_keeps_to_a_bounded_number_of_points():
    asked = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(dict(request.url.params))
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": []}})

    PrometheusAlerts("http://prom/", transport=httpx.MockTransport(answer)).fired("fraud", 2, 0.0, 86_400.0)
    assert asked[0]["query"] == 'ALERTS{alertstate="firing",model="fraud",version="2"}'
    assert asked[0]["step"] == "87s" and asked[0]["start"] == "0.000"


def test_without_prometheus_no_alert_is_read_and_that_is_said():
    assert isinstance(alerts_for(None), NoAlerts) and not alerts_for(None).checked
    assert alerts_for(None).fired("fraud", 2, 0.0, 1.0) == []
    assert alerts_for("http://prom").checked
