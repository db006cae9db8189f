"""`raynomaly monitor` on the session's real runtime: rows with two features shifted far from the
training data show exactly those two features drifted, read from Ray's real metrics (the direct
scrape of the runtime's export, the metric source the session's controller uses)."""

import json
import threading

import httpx
import numpy as np
import pytest

from models.demo import FEATURES, readings
from runtime.openapi import PIN_HEADER

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHIFTED = (0, 3)
"""The features sent 5 standard deviations above their training values."""


@pytest.fixture
def sensor_v1(served):
    """Sensor served by v1 alone (trained on the demo's train.csv), no rollout of it running."""
    from tests.controller.live import Control

    control = Control(served)
    control.abort_active("sensor")
    served.cli("traffic", "set", "sensor", "1=100")
    yield


def send(served, rows: np.ndarray, stop: threading.Event) -> list[int]:
    """POST `rows` to sensor in batches of 8, pinned to v1, until `stop`; the statuses."""
    statuses = []
    with httpx.Client(timeout=30.0, headers=served.headers) as client:
        while not stop.is_set():
            for start in range(0, len(rows), 8):
                body = {"model": "sensor", "instances": rows[start : start + 8].tolist()}
                response = client.post(
                    f"{served.http}/api/v1/predict/batch", json=body, headers={PIN_HEADER: "1"}
                )
                statuses.append(response.status_code)
                if stop.wait(0.02):
                    break
    return statuses


def test_monitor_flags_exactly_the_two_shifted_features(served, sensor_v1):
    rows = readings(25_000, 0.0, seed=1)[5000:7000]  # the training data's generator, unseen rows
    rows[:, SHIFTED] += 5 * rows[:, SHIFTED].std(axis=0)
    stop, statuses = threading.Event(), []
    sender = threading.Thread(target=lambda: statuses.extend(send(served, rows, stop)), daemon=True)
    sender.start()
    try:
        stop.wait(5.0)  # counts reach Ray's export within a few seconds (1 s report interval, flushes)
        result = served.cli("monitor", "sensor", "--window", "30s", "--json")
    finally:
        stop.set()
        sender.join(timeout=60)
    assert statuses and set(statuses) == {200}
    document = json.loads(result.stdout)
    v1 = next(v for v in document["versions"] if v["version"] == 1)
    assert v1["rows"] > 500
    psi = {f["feature"]: f["psi"] for f in v1["features"]}
    shifted = {FEATURES[j] for j in SHIFTED}
    assert set(v1["drifted"]) == shifted
    assert all(psi[f] > 0.2 for f in shifted)
    assert all(psi[f] < 0.2 for f in FEATURES if f not in shifted), psi
    assert v1["issues"].get("out_of_range", 0) > 0  # 5 std above is mostly past the training maximum
