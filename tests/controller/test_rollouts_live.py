"""Rollouts on a real local Ray Serve, driven by the controller that `raynomaly up` started,
under steady load, judged from Ray's real metrics."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.controller.live import Control, Load, measurement, moves, story, verdicts

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WINDOW = ["--interval", "10s", "--min-requests", "25"]
SLOW_BATCHES = json.dumps({"batching": {"max_batch_size": 64, "batch_wait_timeout_s": 0.2}})
"""Candidate options that make every request wait 200 ms for its batch, inline in the gateway as in a
dedicated Scorer: a real latency regression."""


@pytest.fixture
def control(served):
    """Sensor served by v1 alone before the test; no rollout of it left running after."""
    control = Control(served)
    served.cli("traffic", "set", "sensor", "1=100")
    yield control
    control.abort_active("sensor")


def deploy(served, *args: str) -> str:
    result = served.cli("deploy", "sensor", *args, "--json")
    return json.loads(result.stdout)["id"]


def test_a_healthy_dedicated_canary_of_an_inline_version_goes_10_50_100_with_no_failed_request(
    served, control
):
    # the dedicated candidate pays the handle hop (~5 ms at p99 here): an honest cost, tolerated here
    dedicated = ["--options", json.dumps({"placement": "dedicated"}), "--latency-tolerance-ms", "25"]
    with Load(served.http, key=served.key) as load:
        rollout_id = deploy(served, "2", "--steps", "10,50,100", *dedicated, "--max-p99-ratio", "3", *WINDOW)
        answer = control.finished(rollout_id)
        time.sleep(2)  # traffic keeps flowing after the promotion
    assert answer["rollout"]["phase"] == "Succeeded", answer["rollout"]["reason"]
    assert moves(answer) == ["advance", "advance", "promote", "succeed"], story(answer)
    assert load.failed == 0 and load.statuses[200] > 500, load.statuses
    assert load.versions[1] > 0 and load.versions[2] > 0
    assert served.desired().traffic.models["sensor"].weights == {2: 100}
    assert "sensor--v2" in served.replicas()  # the candidate ran as its own application throughout
    status = json.loads(served.cli("rollout", "status", rollout_id, "--json").stdout)
    assert status["phase"] == "Succeeded" and status["latest_verdict"]["outcome"] == "Successful"
    history = json.loads(served.cli("rollout", "history", "sensor", "--json").stdout)
    assert history[0]["id"] == rollout_id
    assert "Succeeded" in served.cli("rollout", "watch", rollout_id).stdout  # a finished one returns at once
    for suffix in ("html", "png"):
        report = served.root / f"{rollout_id}.{suffix}"
        served.cli("rollout", "report", rollout_id, "--output", str(report))
        assert report.stat().st_size > 10_000


def test_a_same_speed_canary_at_low_traffic_succeeds_under_the_loadtest_command(served, control):
    """What a newcomer does: a canary of an equivalent version while `raynomaly loadtest` sends a
    person's worth of traffic (10 single rows a second, 1 a second to the candidate at 10%)."""
    command = [str(Path(sys.executable).with_name("raynomaly")), "loadtest", "sensor", "--rps", "10",
               "--duration", "75s", "--data", str(served.root / "demo" / "train.csv"), "--json"]  # fmt: skip
    load = subprocess.Popen(
        command, env=served.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(5)  # Locust's users start
        rollout_id = deploy(served, "2", "--steps", "10,50,100", "--interval", "15s")
        answer = control.finished(rollout_id)
    finally:
        out, err = load.communicate(timeout=180)
    assert answer["rollout"]["phase"] == "Succeeded", story(answer)
    assert moves(answer) == ["advance", "advance", "promote", "succeed"], story(answer)
    judges = [m for v in verdicts(answer) for m in v["measurements"] if m["kind"] == "judge"]
    assert judges and all(m["p_value"] > m["alpha"] for m in judges if m["samples"])
    assert load.returncode == 0, err
    sent = json.loads(out)
    assert sent["failed"] == 0 and sent["requests"] > 600 and 8 < sent["rps"] < 12, sent


def test_a_latency_regression_is_rolled_back_at_the_first_look_that_shows_it(served, control):
    with Load(served.http, key=served.key) as load:
        rollout_id = deploy(served, "2", "--options", SLOW_BATCHES, "--failure-limit", "1", *WINDOW)
        answer = control.finished(rollout_id)
    record = answer["rollout"]
    assert record["phase"] == "RolledBack" and "latency" in record["reason"]
    judged = verdicts(answer)
    assert [v["outcome"] for v in judged] == ["Failed"]  # a judge fails once, and that is enough
    latency = measurement(judged[-1], "latency")
    assert latency["outcome"] == "Failed" and latency["low"] > latency["threshold"] == 1.5
    assert latency["p_value"] <= latency["alpha"]
    assert served.desired().traffic.models["sensor"].weights == {1: 100}
    assert load.failed == 0, load.statuses


def test_a_candidate_whose_scores_drift_is_rolled_back_on_its_score_distribution(served, control):
    with Load(served.http, key=served.key):
        rollout_id = deploy(served, "3", "--failure-limit", "0", *WINDOW)
        answer = control.finished(rollout_id)
    assert answer["rollout"]["phase"] == "RolledBack", story(answer)
    judged = verdicts(answer)[-1]
    drift = [measurement(judged, name) for name in ("ks_reference", "ks_stable")]
    assert any(m["outcome"] == "Failed" for m in drift), story(answer)
    assert all(m["value"] > 0.3 for m in drift)  # far beyond the 0.1 floor
    assert "ks_" in answer["rollout"]["reason"]


def test_blue_green_switches_back_at_once_when_the_promoted_version_regresses(served, control):
    from runtime.conflict import Conflict
    from runtime.desired import Batching, ScorerOptions

    with Load(served.http, key=served.key) as load:
        rollout_id = deploy(served, "2", "--strategy", "blue-green", "--warm", "5m", *WINDOW)
        switched = control.wait(rollout_id, lambda r: r["phase"] == "Promoting", timeout_s=120)
        assert switched["rollout"]["traffic"]["weights"] == {"2": 100}
        assert measurement(verdicts(switched)[-1], "agreement")["outcome"] == "Successful"
        slow = ScorerOptions(batching=Batching(batch_wait_timeout_s=0.2))
        for _ in range(5):  # inject the regression into the promoted version, in place; the controller
            desired = served.desired()  # may record a revision between our read and write: read again
            versions = [v.model_copy(update={"options": slow}) if v.model == "sensor" and v.version == 2
                        else v for v in desired.versions]  # fmt: skip
            try:
                served.apply(desired.model_copy(update={"versions": versions}))
                break
            except Conflict:
                continue
        else:
            raise AssertionError("the regression could not be injected: every write met a newer revision")
        injected = time.monotonic()
        answer = control.finished(rollout_id)
        back = time.monotonic() - injected
    assert answer["rollout"]["phase"] == "RolledBack", answer["rollout"]["reason"]
    assert served.desired().traffic.models["sensor"].weights == {1: 100}
    assert back < 3 * 10 + 15  # failure_limit + 1 windows, the window open at the injection, and acting
    assert load.failed == 0, load.statuses


def test_a_controller_killed_mid_rollout_resumes_to_the_same_outcome(served, control, report):
    from controller.settings import ControllerSettings

    settings = ControllerSettings.resolve(served.environ)
    with Load(served.http, key=served.key) as load:
        rollout_id = deploy(served, "2", "--steps", "10,50,100", "--max-p99-ratio", "3", *WINDOW)
        control.wait(rollout_id, lambda r: r["step"] == 1 and r["window_started"] is not None, timeout_s=120)
        os.kill(int(settings.pid_path.read_text()), signal.SIGKILL)
        weights_while_dead = served.desired().traffic.models["sensor"].weights
        time.sleep(10)  # longer than a window: nothing moves while the controller is down
        assert served.desired().traffic.models["sensor"].weights == weights_while_dead == {1: 50, 2: 50}
        restarted = time.monotonic()
        served.cli("controller", "start")  # back in this long after 10 s dead
        recovered_s = round(time.monotonic() - restarted, 1)
        answer = control.finished(rollout_id)
    phase, steps = answer["rollout"]["phase"], len(moves(answer))
    after = f"rollout {phase} after {steps} moves, none repeated or skipped"
    report(sent=sum(load.statuses.values()), failed=load.failed, recovered_s=recovered_s, after=after)
    assert answer["rollout"]["phase"] == "Succeeded"
    assert moves(answer) == ["advance", "advance", "promote", "succeed"], story(answer)
    assert load.failed == 0, load.statuses


def test_prometheus_and_the_direct_scrape_reach_the_same_verdicts(served, control, prometheus_server):
    from controller.analysis.assess import assess
    from controller.analysis.judges import Arms
    from controller.analysis.thresholds import Thresholds
    from controller.analysis.window import VersionWindow, increase, summarise
    from controller.sources import source_for
    from tests.conftest import SERVING_PORTS

    metrics_port = SERVING_PORTS["--metrics-port"]
    prometheus = prometheus_server([f"127.0.0.1:{metrics_port}"])
    prometheus.wait_for_scrape()
    sources = [source_for("scrape", served.metrics_url), source_for("prometheus", prometheus.url)]
    served.cli("controller", "start", "--prometheus-url", prometheus.url)
    try:
        with Load(served.http, key=served.key) as load:
            rollout_id = deploy(served, "2", "--options", SLOW_BATCHES, "--failure-limit", "1", *WINDOW)
            control.wait(rollout_id, lambda r: r["window_started"] is not None, timeout_s=120)
            before = [source.snapshot("sensor") for source in sources]
            time.sleep(10)
            after = [source.snapshot("sensor") for source in sources]
            answer = control.finished(rollout_id)
    finally:
        served.cli("controller", "start")  # back to the embedded default
    assert answer["rollout"]["phase"] == "RolledBack", story(answer)
    assert measurement(verdicts(answer)[-1], "latency")["outcome"] == "Failed"
    thresholds = Thresholds(min_requests=25)
    judged = []
    for base, now in zip(before, after, strict=True):
        windows = summarise(increase(base, now))
        arms = Arms(windows.get(2, VersionWindow()), windows[1])
        judged.append(assess(thresholds, 0.01, 2, arms, arms))  # a default canary's alpha and steps
        assert windows[1].requests > 100
    scraped, queried = ({m.name: m for m in verdict.measurements} for verdict in judged)
    assert judged[0].outcome == judged[1].outcome == "Failed"
    assert scraped["latency"].outcome == queried["latency"].outcome == "Failed"
    assert scraped["latency"].p_value == pytest.approx(queried["latency"].p_value, rel=0.5)
    assert queried["error_rate"].outcome == scraped["error_rate"].outcome
    assert load.failed == 0, load.statuses


def test_a_rolling_update_changes_options_in_place_behind_a_locust_gate(served, control):
    options = {"batching": {"max_batch_size": 32, "batch_wait_timeout_s": 0.002}}
    with Load(served.http, key=served.key) as load:
        rollout_id = deploy(served, "1", "--strategy", "rolling", "--options", json.dumps(options),
                            "--loadtest", "users=2,duration=2s", *WINDOW)  # fmt: skip
        answer = control.finished(rollout_id)
    assert answer["rollout"]["phase"] == "Succeeded", story(answer)
    version = next(v for v in served.desired().versions if (v.model, v.version) == ("sensor", 1))
    assert version.options.batching.max_batch_size == 32
    gate = measurement(verdicts(answer)[-1], "loadtest_error_rate")
    assert gate["outcome"] == "Successful" and "requests" in gate["message"]
    assert load.failed == 0, load.statuses


def test_requests_that_only_a_client_could_get_wrong_never_roll_a_canary_back(served, control):
    """Canary poisoning: a caller pinning malformed requests to the candidate (a 401-digit number,
    too few features) gets 400s; they count as client errors, so the candidate's error rate stays 0
    and the healthy canary succeeds."""
    url = f"{served.http}/api/v1/predict"
    huge = b'{"model": "sensor", "features": [1' + b"0" * 400 + b", 1, 1, 1, 1, 1, 1, 1]}"
    short = json.dumps({"model": "sensor", "features": [1.0]}).encode()
    poisoned = []
    with Load(served.http, key=served.key) as load:
        rollout_id = deploy(served, "2", "--steps", "10,100", *WINDOW)
        headers = {**served.headers, "x-model-version": "2", "content-type": "application/json"}
        with httpx.Client(timeout=10.0) as client:
            fine = json.dumps({"model": "sensor", "features": [1.0] * 8}).encode()
            deadline = time.monotonic() + 60  # the candidate is placed at the controller's next tick
            while client.post(url, content=fine, headers=headers).status_code != 200:
                assert time.monotonic() < deadline, "the candidate was never routed"
                time.sleep(0.2)
            while len(poisoned) < 120:
                poisoned.append(client.post(url, content=(huge, short)[len(poisoned) % 2], headers=headers))
                time.sleep(0.1)
        answer = control.finished(rollout_id)
    assert {r.status_code for r in poisoned} == {400}, [r.text for r in poisoned if r.status_code != 400][:3]
    assert answer["rollout"]["phase"] == "Succeeded", story(answer)
    errors = [measurement(v, "error_rate") for v in verdicts(answer)]
    assert errors and all(e["outcome"] != "Failed" for e in errors), story(answer)
    assert any(e["value"] == 0 for e in errors), story(answer)  # the 120 refusals were not counted
    assert load.failed == 0
