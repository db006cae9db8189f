"""From dev to production across two local runtimes on one machine: the session's runtime is
production, a second one (its own Ray, Serve and HAProxy, the same model store) is dev, and the
session's controller promotes between them, judging each from its own runtime's metrics."""

import json
import time

import httpx
import pytest

from tests.conftest import CONTROLLER_PORT, SERVING_PORTS
from tests.controller.live import Control, Load, story

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEV_PORTS = {"--http-port": 38100, "--grpc-port": 39100, "--dashboard-port": 38365, "--ray-port": 36479,
             "--metrics-port": 38180, "--haproxy-metrics-port": 38101, "--haproxy-stats-port": 38404,
             "--fallback-http-port": 38500, "--fallback-grpc-port": 39500,
             "--direct-http-ports": "32000..32999", "--direct-grpc-ports": "42000..42999"}  # fmt: skip
ROLLOUT = {"canary": {"steps": [50, 100]}, "interval_s": 8, "thresholds": {"min_requests": 25}}
SOAK_S = 5


@pytest.fixture(scope="module")
def dev(served):
    """The dev runtime, serving sensor v1; stopped (HAProxy included) at the end."""
    home = served.root / "dev"
    environ = {
        **served.environ,
        "RAYNOMALY_HOME": str(home),
        "RAYNOMALY_CONTROLLER_PORT": str(CONTROLLER_PORT + 100),
    }
    flags = [str(part) for flag, value in DEV_PORTS.items() for part in (flag, value)]
    try:
        served.cli("up", *flags, "--num-cpus", "2", "--replicas", "1", environ=environ)
        served.cli("traffic", "set", "sensor", "1=100", environ=environ)
        key = (home / "controller" / "client_token").read_text().strip()
        yield home, environ, f"http://127.0.0.1:{DEV_PORTS['--http-port']}", key
    finally:
        served.cli("down", "--ray-port", str(DEV_PORTS["--ray-port"]), environ=environ, check=False)


@pytest.fixture
def promoting(served, dev, tmp_path):
    """The session's controller reading dev (the second runtime) and production (its own)."""
    home = dev[0]
    environments = tmp_path / "environments.yaml"
    environments.write_text(json.dumps({"environments": {
        "dev": {"target": {"kind": "local", "home": str(home)}, "rollout": ROLLOUT},
        "production": {"upstream": "dev", "soak": f"{SOAK_S}s", "rollout": ROLLOUT,
                       "approval": {"role": "approver", "four_eyes": True}},
    }}))  # fmt: skip
    control = Control(served)
    served.cli("traffic", "set", "sensor", "1=100")
    served.cli("controller", "start", "--environments", str(environments))
    try:
        yield control
    finally:
        control.abort_active("sensor")
        served.cli("controller", "start")  # back to the built-in environments


def as_(served, role: str, subject: str) -> dict:
    token = served.cli(
        "controller", "token", "--role", role, "--subject", subject, "--ttl", "1h"
    ).stdout.strip()
    return {**served.environ, "RAYNOMALY_TOKEN": token}


def promote(served, environ, *args: str):
    return served.cli("promote", "sensor", "2", *args, "--reason", "recalibrated", "--ticket", "CHG-7",
                      check=False, environ=environ)  # fmt: skip


def test_a_version_goes_from_dev_to_production_only_when_verified_soaked_and_approved(served, dev, promoting):
    control, (_, dev_environ, dev_http, dev_key) = promoting, dev
    bob, alice = as_(served, "deployer", "bob"), as_(served, "approver", "alice")
    refused = promote(served, bob, "--to", "production")
    assert refused.returncode == 1 and "has not been rolled out in dev" in refused.stderr, refused.stderr

    def verify_in_dev() -> dict:
        with Load(dev_http, key=dev_key) as load:
            started = json.loads(promote(served, bob, "--to", "dev", "--json").stdout)
            answer = control.finished(started["id"])
        assert load.failed == 0, load.statuses
        return answer

    first = verify_in_dev()
    assert first["rollout"]["phase"] == "Succeeded", story(first)
    assert first["rollout"]["environment"] == "dev"
    dev_table = json.loads(served.cli("status", "--json", environ=dev_environ).stdout)
    assert dev_table["traffic"]["models"]["sensor"]["weights"] == {"2": 100}
    assert served.desired().traffic.models["sensor"].weights == {1: 100}  # production untouched

    no_approval = promote(served, bob, "--to", "production")
    assert no_approval.returncode == 1 and "needs an approval of v2" in no_approval.stderr
    denied = served.cli(
        "approve", "sensor", "2", "--for", "production", "--reason", "ok", check=False, environ=bob
    )
    assert denied.returncode == 1 and "approver role" in denied.stderr
    served.cli("approve", "sensor", "2", "--for", "production", "--reason", "dashboards fine", environ=alice)
    four_eyes = promote(served, alice, "--to", "production")
    assert four_eyes.returncode == 1 and "requires four eyes" in four_eyes.stderr

    # a rollback in dev revokes v2's eligibility, and the approval with it
    served.cli("traffic", "set", "sensor", "1=100", environ=dev_environ)
    again = json.loads(promote(served, bob, "--to", "dev", "--json").stdout)["id"]
    control.wait(again, lambda r: r["phase"] == "Progressing")
    served.cli("rollout", "rollback", again)
    assert control.finished(again)["rollout"]["phase"] == "RolledBack"
    revoked = promote(served, bob, "--to", "production")
    assert revoked.returncode == 1 and f"latest rollout in dev ({again}) ended RolledBack" in revoked.stderr

    second = verify_in_dev()
    assert second["rollout"]["phase"] == "Succeeded", story(second)
    time.sleep(SOAK_S)
    stale = promote(served, bob, "--to", "production")
    assert stale.returncode == 1 and "was for an earlier rollout in dev" in stale.stderr, stale.stderr
    served.cli("approve", "sensor", "2", "--for", "production", "--reason", "re-verified", environ=alice)
    check = served.cli("promote", "sensor", "2", "--to", "production", "--check", environ=bob)
    assert "may be promoted to production" in check.stdout

    with Load(served.http, key=served.key) as load:
        started = json.loads(promote(served, bob, "--to", "production", "--json").stdout)
        production = control.finished(started["id"])
    assert production["rollout"]["phase"] == "Succeeded", story(production)
    assert load.failed == 0 and load.versions[2] > 0, load.statuses
    assert served.desired().traffic.models["sensor"].weights == {2: 100}
    promotion = production["rollout"]["promotion"]
    assert promotion["upstream"]["rollout"] == second["rollout"]["id"] and promotion["ticket"] == "CHG-7"
    assert promotion["upstream"]["verdicts"] == {"Successful": 1}  # the 50% step; 100 promotes
    history = json.loads(
        served.cli("models", "history", "sensor", "--environment", "production", "--json").stdout
    )
    assert [(p["version"], p["rollout"]) for p in history] == [(2, started["id"]), (1, None)], history
    versions = control.client.get("/api/v1/models/sensor/versions").json()
    v2 = next(v for v in versions if v["version"] == 2)
    assert v2["environments"]["production"]["weight"] == 100 and v2["environments"]["dev"]["weight"] == 100
    assert {r["environment"] for r in v2["rollouts"]} >= {"dev", "production"}

    entries, since = [], 0
    while True:
        page = control.client.get("/api/v1/audit", params={"since": since, "limit": 10_000}).json()
        assert page["valid"], page["broken_at"]
        entries += page["entries"]
        if len(page["entries"]) < 10_000:
            break
        since = page["entries"][-1]["seq"] + 1
    actions = ("promote", "promote-refused", "approve", "denied")
    steps = [
        (e["actor"], e["action"])
        for e in entries
        if e["action"] in actions and e["actor"] in ("bob", "alice")
    ]
    assert steps == [
        ("bob", "promote-refused"), ("bob", "promote"), ("bob", "promote-refused"), ("bob", "denied"),
        ("alice", "approve"), ("alice", "promote-refused"), ("bob", "promote"), ("bob", "promote-refused"),
        ("bob", "promote"), ("bob", "promote-refused"), ("alice", "approve"), ("bob", "promote"),
    ], steps  # fmt: skip
    httpx.get(f"http://127.0.0.1:{SERVING_PORTS['--http-port']}/ready").raise_for_status()
