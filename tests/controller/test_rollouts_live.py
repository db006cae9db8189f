"""Rollouts on a real local Ray Serve, driven by the controller that `raynomaly up` started,
under steady load, judged from Ray's real metrics."""

import json
import os
import signal
import time

import pytest

from tests.controller.live import Control, Load, measurement, moves, story, verdicts

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WINDOW = ["--interval", "10s", "--min-requests", "25", "--min-rows", "200"]
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
    with Load(served.http) as load:
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


def test_a_latency_regression_is_rolled_back_within_failure_limit_plus_one_windows(served, control):
    with Load(served.http) as load:
        rollout_id = deploy(served, "2", "--options", SLOW_BATCHES, "--failure-limit", "1", *WINDOW)
        answer = control.finished(rollout_id)
    record = answer["rollout"]
    assert record["phase"] == "RolledBack" and "p99_ratio" in record["reason"]
    judged = verdicts(answer)
    assert [v["outcome"] for v in judged] == ["Failed", "Failed"]
    ratio = measurement(judged[-1], "p99_ratio")
    assert ratio["outcome"] == "Failed" and ratio["value"] > ratio["threshold"] == 1.5
    assert served.desired().traffic.models["sensor"].weights == {1: 100}
    assert load.failed == 0, load.statuses


def test_a_candidate_whose_scores_drift_is_rolled_back_on_psi_and_anomaly_rate(served, control):
    with Load(served.http):
        rollout_id = deploy(served, "3", "--failure-limit", "0", *WINDOW)
        answer = control.finished(rollout_id)
    assert answer["rollout"]["phase"] == "RolledBack"
    judged = verdicts(answer)[-1]
    assert measurement(judged, "psi_reference")["value"] > 1.0
    assert measurement(judged, "psi_stable")["outcome"] == "Failed"
    assert measurement(judged, "anomaly_rate_delta")["outcome"] == "Failed"
    assert measurement(judged, "psi_stable")["value"] > 1.0, story(answer)


def test_blue_green_switches_back_at_once_when_the_promoted_version_regresses(served, control):
    from runtime.desired import Batching, ScorerOptions

    with Load(served.http) as load:
        rollout_id = deploy(served, "2", "--strategy", "blue-green", "--warm", "5m", *WINDOW)
        switched = control.wait(rollout_id, lambda r: r["phase"] == "Promoting", timeout_s=120)
        assert switched["rollout"]["traffic"]["weights"] == {"2": 100}
        assert measurement(verdicts(switched)[-1], "agreement")["outcome"] == "Successful"
        desired = served.desired()  # inject the regression into the promoted version, in place
        slow = ScorerOptions(batching=Batching(batch_wait_timeout_s=0.2))
        versions = [v.model_copy(update={"options": slow}) if v.model == "sensor" and v.version == 2 else v
                    for v in desired.versions]  # fmt: skip
        served.apply(desired.model_copy(update={"versions": versions}))
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
    with Load(served.http) as load:
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
    from controller.analysis.window import VersionWindow, increase, summarise
    from controller.rollouts.spec import Thresholds
    from controller.sources import source_for
    from tests.conftest import SERVING_PORTS

    metrics_port = SERVING_PORTS["--metrics-port"]
    prometheus = prometheus_server([f"127.0.0.1:{metrics_port}"])
    prometheus.wait_for_scrape()
    sources = [source_for("scrape", served.metrics_url), source_for("prometheus", prometheus.url)]
    served.cli("controller", "start", "--prometheus-url", prometheus.url)
    try:
        with Load(served.http) as load:
            rollout_id = deploy(served, "2", "--options", SLOW_BATCHES, "--failure-limit", "1", *WINDOW)
            control.wait(rollout_id, lambda r: r["window_started"] is not None, timeout_s=120)
            before = [source.snapshot("sensor") for source in sources]
            time.sleep(10)
            after = [source.snapshot("sensor") for source in sources]
            answer = control.finished(rollout_id)
    finally:
        served.cli("controller", "start")  # back to the embedded default
    assert answer["rollout"]["phase"] == "RolledBack", story(answer)
    assert measurement(verdicts(answer)[-1], "p99_ratio")["outcome"] == "Failed"
    thresholds = Thresholds(min_requests=25, min_rows=200)
    judged = []
    for base, now in zip(before, after, strict=True):
        windows = summarise(increase(base, now))
        judged.append(assess(thresholds, windows.get(2, VersionWindow()), windows[1]))
        assert windows[1].requests > 100
    scraped, queried = ({m.name: m for m in verdict.measurements} for verdict in judged)
    assert judged[0].outcome == judged[1].outcome == "Failed"
    assert scraped["p99_ratio"].outcome == queried["p99_ratio"].outcome == "Failed"
    assert queried["error_rate"].outcome == scraped["error_rate"].outcome
    assert load.failed == 0, load.statuses


def test_a_rolling_update_changes_options_in_place_behind_a_locust_gate(served, control):
    options = {"batching": {"max_batch_size": 32, "batch_wait_timeout_s": 0.002}}
    with Load(served.http) as load:
        rollout_id = deploy(served, "1", "--strategy", "rolling", "--options", json.dumps(options),
                            "--loadtest", "users=2,duration=2s", *WINDOW)  # fmt: skip
        answer = control.finished(rollout_id)
    assert answer["rollout"]["phase"] == "Succeeded", story(answer)
    version = next(v for v in served.desired().versions if (v.model, v.version) == ("sensor", 1))
    assert version.options.batching.max_batch_size == 32
    gate = measurement(verdicts(answer)[-1], "loadtest_error_rate")
    assert gate["outcome"] == "Successful" and "requests" in gate["message"]
    assert load.failed == 0, load.statuses
