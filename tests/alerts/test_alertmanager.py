"""The example Alertmanager configuration routes every severity the alerts carry to a receiver it
defines, and holds no secret; `amtool check-config` checks it too wherever amtool is installed."""

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.alerts.test_rules import SEVERITIES, alerts

CONFIG = Path(__file__).resolve().parents[2] / "kuberay" / "alerts" / "alertmanager.yaml"


def test_routes_and_receivers_agree():
    config = yaml.safe_load(CONFIG.read_text())
    receivers = {r["name"] for r in config["receivers"]}
    route = config["route"]
    assert route["receiver"] in receivers
    routed = {}
    for child in route["routes"]:
        assert child["receiver"] in receivers
        for matcher in child["matchers"]:
            label, value = re.fullmatch(r'(\w+)="(\w+)"', matcher).groups()
            routed[value] = child["receiver"]
    assert routed == {"page": "pager", "ticket": "tickets"}
    assert {a["labels"]["severity"] for a in alerts()} == SEVERITIES == set(routed)
    named = {a["alert"] for a in alerts()}
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            pattern = re.fullmatch(r'alertname=~?"(.+)"', matcher).group(1)
            assert any(re.fullmatch(pattern, name) for name in named), f"{matcher} matches no alert"
    if shutil.which("amtool") is not None:
        checked = subprocess.run(["amtool", "check-config", str(CONFIG)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_no_secrets():
    text = CONFIG.read_text()
    assert not re.search(r"(routing_key|api_key|password|token|auth_password)\s*:", text)
    assert all(".invalid/" in url for url in re.findall(r"url: (\S+)", text))
