"""The Locust user of the load-test gate and of `raynomaly loadtest`: one row per request.

Only the `python -m locust` subprocess that `LocustGate` starts imports this file (Locust patches the
standard library with gevent at import). It reads its target from the environment:
RAYNOMALY_GATE_MODEL; RAYNOMALY_GATE_VERSION, sent as `x-model-version` (empty: the traffic table
decides, as for any caller); RAYNOMALY_GATE_FEATURES, features per row; RAYNOMALY_GATE_ROWS, a `.npy`
file of rows drawn at random (empty: standard-normal rows); RAYNOMALY_GATE_RATE, requests per second
per user (empty: users wait nothing between requests, a closed loop of `--users` clients);
RAYNOMALY_GATE_KEY, the inference key sent as `Authorization: Bearer` (empty: none).

When the run stops it writes one line to stderr, `RAYNOMALY_GATE_REPORT {"answered": N, "errors": {...}}`:
how many requests got an HTTP answer (any status; a refused or reset connection gets none) and the
most frequent failures with their counts, so the gate can say why requests failed (`--json` carries
the request statistics only).
"""

import json
import os
import sys

import numpy as np
from locust import constant, constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

MODEL = os.environ["RAYNOMALY_GATE_MODEL"]
VERSION = os.environ.get("RAYNOMALY_GATE_VERSION", "")
FEATURES = int(os.environ["RAYNOMALY_GATE_FEATURES"])
ROWS = np.load(os.environ["RAYNOMALY_GATE_ROWS"]) if os.environ.get("RAYNOMALY_GATE_ROWS") else None
RATE = float(os.environ.get("RAYNOMALY_GATE_RATE") or 0)
KEY = os.environ.get("RAYNOMALY_GATE_KEY", "")
REPORT_PREFIX = "RAYNOMALY_GATE_REPORT "
_answered = 0


class Predict(FastHttpUser):
    """POST /api/v1/predict with one row; any non-2xx answer is a failure."""

    wait_time = constant_throughput(RATE) if RATE else constant(0)

    def on_start(self) -> None:
        self.rng = np.random.default_rng()
        self.headers = {"x-model-version": str(int(VERSION))} if VERSION else {}
        if KEY:
            self.headers["authorization"] = f"Bearer {KEY}"

    @task
    def predict(self) -> None:
        row = ROWS[self.rng.integers(len(ROWS))] if ROWS is not None else self.rng.standard_normal(FEATURES)
        body = {"model": MODEL, "features": row.tolist()}
        self.client.post("/api/v1/predict", json=body, headers=self.headers, name="predict")


@events.request.add_listener
def _count_answered(response: object = None, **_kwargs) -> None:
    global _answered
    if getattr(response, "status_code", 0):  # FastHttpUser reports 0 when no HTTP answer came back
        _answered += 1


@events.test_stop.add_listener
def _report(environment: Environment, **_kwargs) -> None:
    errors = sorted(environment.stats.errors.values(), key=lambda e: e.occurrences, reverse=True)
    top = {str(e.error)[:200]: e.occurrences for e in errors[:3]}
    print(REPORT_PREFIX + json.dumps({"answered": _answered, "errors": top}), file=sys.stderr, flush=True)
