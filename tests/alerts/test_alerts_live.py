"""An alert fires against the real runtime: a Prometheus (tests/prometheus.py) scrapes the
session's Ray metrics export as job `raynomaly-ray` and evaluates the shipped rules every second;
rows far outside the churn model's training data all score above its reference's 95th percentile,
so the PSI of its score percentiles jumps past 0.2 and RaynomalyScoreDrift fires.

The shipped alert waits `for: 15m`; this test loads a copy of the rules with that one alert's
`for` set to 0s, everything else as shipped."""

import time

import httpx
import pytest
import yaml

from tests.alerts.test_rules import RULES
from tests.prometheus import PrometheusServer
from tests.runtime.test_serving_live import ROW

pytestmark = pytest.mark.integration

ALERT, MODEL = "RaynomalyScoreDrift", "churn"
ROWS_PER_REQUEST = 200
FIRING_TIMEOUT_S = 120.0


def rules_firing_at_once(path, alert: str) -> None:
    """The shipped rules, written to `path`, with `alert`'s `for` set to 0s."""
    document = yaml.safe_load(RULES.read_text())
    (rule,) = [r for g in document["groups"] for r in g["rules"] if r.get("alert") == alert]
    rule["for"] = "0s"
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _is(alert: dict, name: str, model: str) -> bool:
    return alert["labels"]["alertname"] == name and alert["labels"].get("model") == model


def test_score_drift_fires_on_rows_far_from_the_reference(served, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules_firing_at_once(rules, ALERT)
    target = served.metrics_url.removeprefix("http://").removesuffix("/metrics")
    outliers = [[value * 100 for value in ROW]] * ROWS_PER_REQUEST
    with PrometheusServer([target], job="raynomaly-ray", rule_files=[rules]) as prometheus:
        prometheus.wait_for_scrape(min_samples=1, timeout_s=30.0)
        deadline, firing = time.monotonic() + FIRING_TIMEOUT_S, []
        while not firing and time.monotonic() < deadline:
            answer = httpx.post(f"{served.http}/api/v1/predict/batch", headers=served.headers,
                                json={"model": MODEL, "instances": outliers}, timeout=30.0)  # fmt: skip
            assert answer.status_code == 200, answer.text
            time.sleep(1.0)
            firing = [a for a in prometheus.alerts() if _is(a, ALERT, MODEL) and a["state"] == "firing"]
        psi, rows = (prometheus.query(f"raynomaly:score_{s}") for s in ("psi:1h", "rows:increase1h"))
        assert firing, (
            f"{ALERT} did not fire for {MODEL} within {FIRING_TIMEOUT_S:g} s; PSI: {psi}, rows: {rows}, "
            f"alerts: {prometheus.alerts()}\n{prometheus.log_tail()}"
        )
    alert = firing[0]
    assert alert["labels"]["severity"] == "ticket" and alert["labels"]["role"] in ("stable", "canary")
    assert float(alert["value"]) > 0.2
    assert f"of model {MODEL} drifted from its reference (PSI " in alert["annotations"]["summary"]
