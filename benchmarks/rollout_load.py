"""Locust users for bench_rollout.py: steady load of 8-row batches drawn from the demo training
distribution (unseen rows), at a constant rate per user.

BENCH_MODEL (default sensor), BENCH_RATE (requests/s per user).
"""

import os

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

from models.demo import readings

MODEL = os.environ.get("BENCH_MODEL", "sensor")
ROWS = readings(25_000, 0.02, seed=1)[5000:]  # the generator and seed of train.csv, rows it did not hold


class SteadyUser(FastHttpUser):
    wait_time = constant_throughput(float(os.environ.get("BENCH_RATE", "12.5")))

    def on_start(self):
        self.position = 0

    @task
    def batch(self):
        self.position = (self.position + 8) % (len(ROWS) - 8)
        body = {"model": MODEL, "instances": ROWS[self.position : self.position + 8].tolist()}
        self.client.post("/api/v1/predict/batch", json=body, name="batch8")
