"""The load-test gate's Locust user: one random row per request, pinned to the candidate version.

Only the `python -m locust` subprocess that `LocustGate` starts imports this file (Locust patches the
standard library with gevent at import). It reads its target from the environment:
RAYNOMALY_GATE_MODEL, RAYNOMALY_GATE_VERSION (sent as `x-model-version`) and RAYNOMALY_GATE_FEATURES
(features per row; rows are standard normal). Users wait nothing between requests, so the gate
measures a closed loop of `--users` concurrent clients.

When the run stops it writes one line to stderr, `RAYNOMALY_GATE_REPORT {"answered": N, "errors": {...}}`:
how many requests got an HTTP answer (any status; a refused or reset connection gets none) and the
most frequent failures with their counts, so the gate can say why requests failed (`--json` carries
the request statistics only).
"""

import json
import os
import sys

import numpy as np
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

MODEL = os.environ["RAYNOMALY_GATE_MODEL"]
VERSION = str(int(os.environ["RAYNOMALY_GATE_VERSION"]))
FEATURES = int(os.environ["RAYNOMALY_GATE_FEATURES"])
REPORT_PREFIX = "RAYNOMALY_GATE_REPORT "
_answered = 0


class PinnedPredict(FastHttpUser):
    """POST /api/v1/predict with one fresh standard-normal row; any non-2xx answer is a failure."""

    def on_start(self) -> None:
        self.rng = np.random.default_rng()
        self.headers = {"x-model-version": VERSION}

    @task
    def predict(self) -> None:
        body = {"model": MODEL, "features": self.rng.standard_normal(FEATURES).tolist()}
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
