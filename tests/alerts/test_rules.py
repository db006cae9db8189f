"""The alert rules in kuberay/alerts/: promtool accepts them and passes their unit tests (each alert
firing and not firing), the PrometheusRule carries the same groups, every alert says how bad it is,
what happened with its value, and where its runbook is, and every series a rule reads is one the
project or Ray Serve exports."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from runtime import series
from tests.kuberay.test_manifests import exported_metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "kuberay" / "alerts" / "raynomaly-rules.yaml"
PROMETHEUS_RULE = ROOT / "kuberay" / "prometheusrule.yaml"
TESTS = sorted(Path(__file__).parent.glob("*.test.yaml"))
RUNBOOK = "https://github.com/raynomaly/raynomaly/blob/main/README.md#alert-"
SEVERITIES = {"page", "ticket"}


def groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def alerts() -> list[dict]:
    return [rule for group in groups() for rule in group["rules"] if "alert" in rule]


def recorded() -> set[str]:
    return {rule["record"] for group in groups() for rule in group["rules"] if "record" in rule}


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=Path(__file__).parent)


def test_promtool_accepts_the_rules():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups())} rules found" in checked.stdout


@pytest.mark.parametrize("test_file", TESTS, ids=[t.name for t in TESTS])
def test_promtool_unit_tests_pass(test_file):
    tested = promtool("test", "rules", test_file.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested_firing_and_not_firing():
    cases: dict[str, set[bool]] = {}
    for test_file in TESTS:
        for test in yaml.safe_load(test_file.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
    assert {a["alert"]: {True, False} for a in alerts()} == cases


def test_the_prometheus_rule_carries_the_same_groups():
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["spec"]["groups"] == groups(), (
        f"{PROMETHEUS_RULE.name} and {RULES.name} differ: copy the groups of {RULES.name} into its spec"
    )


@pytest.mark.parametrize("alert", alerts(), ids=[a["alert"] for a in alerts()])
def test_every_alert_has_a_severity_a_summary_a_formatted_description_and_a_runbook(alert):
    name = alert["alert"]
    assert re.fullmatch(r"Raynomaly[A-Z]\w+", name)
    assert alert["labels"]["severity"] in SEVERITIES
    annotations = alert["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["runbook_url"] == RUNBOOK + name.lower()
    for text in (annotations["summary"], annotations["description"]):
        bare = re.findall(r"\{\{\s*\$value\s*\}\}", text)
        assert not bare or "count" in alert["expr"], f"{name}: format $value with humanize or printf"
    assert "$value" in annotations["description"] or "absent(" in alert["expr"] or "== " in alert["expr"]


def test_every_runbook_has_its_readme_entry():
    readme = (ROOT / "README.md").read_text()
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", readme, re.M)}
    assert {f"alert-{a['alert'].lower()}" for a in alerts()} <= anchors


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_rules_read_only_exported_series():
    """Application series by their scraped names (`Series.sample`, Ray's `ray_` prefix), Ray
    Serve's own, the controller's, and Prometheus's `up`; recording rules read what others record."""
    contract = {name for s in vars(series).values() if isinstance(s, series.Series) for name in s.samples}
    known = exported_metrics() | contract | {"up"}
    expressions = [rule["expr"] for group in groups() for rule in group["rules"]]
    read = {name for expr in expressions for name in re.findall(r"(?<![\w:])(?:ray|raynomaly)_\w+", expr)}
    assert read and read - known == set()
    used = {name for expr in expressions for name in re.findall(r"raynomaly:\w+:\w+", expr)}
    assert used and used <= recorded()
    assert series.LATENCY.sample in read and 50 in series.LATENCY_MS  # the SLO's edge is a bucket edge


def test_the_psi_constants_are_the_empty_buckets_terms():
    """A bucket without a series adds (0 - 1/n) * ln(1e-4 * n) to the PSI."""
    import math

    text = RULES.read_text()
    for count in (len(series.BUCKET_NAMES), series.FEATURE_BIN_COUNT):
        term = (0 - 1 / count) * math.log(1e-4 * count)
        assert f"({count} - count by" in text and f") * {term:.7f}" in text


def test_the_dashboard_reads_only_recorded_rules_and_shows_drift_quality_and_alerts():
    dashboard = json.loads((ROOT / "kuberay" / "grafana-dashboard.json").read_text())
    panels = [p for row in dashboard["panels"] for p in [row, *row.get("panels", [])] if p["type"] != "row"]
    queries = [t["expr"] for p in panels for t in p["targets"]]
    used = {name for q in queries for name in re.findall(r"raynomaly:\w+:\w+", q)}
    assert used <= recorded()
    assert {"raynomaly:feature_psi:1h", "raynomaly:feature_issue_rows:ratio_rate15m"} <= used
    assert any('ALERTS{alertstate="firing"' in q for q in queries)


def test_the_live_tests_prometheus_configuration_loads_the_rules(tmp_path):
    """What tests/alerts/test_alerts_live.py starts, checked by promtool without starting it."""
    from tests.alerts.test_alerts_live import ALERT, rules_firing_at_once
    from tests.prometheus import PrometheusServer

    rules = tmp_path / "rules.yaml"
    rules_firing_at_once(rules, ALERT)
    changed = [
        r for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"] if r.get("for") == "0s"
    ]
    assert [r["alert"] for r in changed] == [ALERT]
    server = PrometheusServer(["127.0.0.1:38080"], job="raynomaly-ray", rule_files=[rules])
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps(server.config()))
    checked = promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups())} rules found" in checked.stdout
