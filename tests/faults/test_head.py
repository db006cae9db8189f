"""The whole Ray head killed mid-canary and brought back with `raynomaly up`: the data plane comes
back with the recorded served state (not the newest published versions) and the rollout goes on from
its record."""

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SERVING_PORTS, TLS_FLAGS
from tests.controller.live import Control, Load, moves, story
from tests.faults.conftest import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WINDOW = ["--interval", "10s", "--min-requests", "25", "--max-p99-ratio", "3"]


def live_weights(served, model: str) -> dict | None:
    try:
        return httpx.get(f"{served.http}/api/v1/traffic", headers=served.headers, timeout=5).json()["models"][
            model
        ]["weights"]
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def test_a_head_killed_mid_canary_comes_back_serving_the_record_and_the_rollout_goes_on(served, report):
    import json

    from models.store import ModelStore
    from models.training import TrainRequest, train

    control = Control(served)
    served.cli("traffic", "set", "sensor", "1=100")
    # a version published and never rolled out: it must not take traffic after the restart
    train(
        TrainRequest("churn", "hbos", str(served.root / "demo" / "train.csv")),
        ModelStore(served.desired().store),
    )
    with Load(served.http, key=served.key) as load:
        result = served.cli("deploy", "sensor", "2", "--steps", "50,100", *WINDOW, "--json")
        rollout_id = json.loads(result.stdout)["id"]
        control.wait(
            rollout_id, lambda r: r["step"] == 0 and r["applied"] and r["window_started"] is not None
        )
        assert served.desired().traffic.models["sensor"].weights == {1: 50, 2: 50}
        ray = str(Path(sys.executable).with_name("ray"))
        crashed = time.monotonic()
        subprocess.run(
            [ray, "stop", "--force"], env=served.environ, capture_output=True, timeout=120
        )  # SIGKILL
        flags = [str(part) for flag, port in SERVING_PORTS.items() for part in (flag, port)]
        served.cli("up", *flags, *TLS_FLAGS, "--num-cpus", "6")  # as the session started it
        answering = until(lambda: live_weights(served, "sensor") is not None, timeout_s=60)
        recovered_s = time.monotonic() - crashed
        restored = live_weights(served, "sensor"), live_weights(served, "churn")
        answer = control.finished(rollout_id, timeout_s=300)
    phase = answer["rollout"]["phase"]
    after = f"sensor {restored[0]}, churn {restored[1]} restored; rollout {phase}"
    report(
        sent=sum(load.statuses.values()), failed=load.failed, recovered_s=round(recovered_s, 1), after=after
    )
    # the record, not the newest versions: churn's unreleased version takes no traffic, and sensor
    # serves its canary's table (or a later step of it: the controller, which outlives the head,
    # goes on judging as soon as the gateway answers, before this first look)
    assert restored[1] == {"1": 100}, restored
    assert restored[0] in ({"1": 50, "2": 50}, {"1": 0, "2": 100}, {"2": 100}), restored
    assert answer["rollout"]["phase"] == "Succeeded", story(answer)
    assert moves(answer) == ["advance", "promote", "succeed"], story(answer)
    assert served.desired().traffic.models["sensor"].weights == {2: 100}
    assert answering is not None and load.statuses[200] > 100, load.statuses
