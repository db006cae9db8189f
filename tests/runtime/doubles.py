"""A faithful double of a local runtime's HTTP surface, behind one `httpx.MockTransport`: the
dashboard's Serve REST API (`PUT/GET /api/serve/applications/`) and the gateway's `/ready`."""

import json
from pathlib import Path

import httpx
import numpy as np

from models.store import ModelStore
from models.training import TrainRequest, train
from runtime.desired import DesiredState
from runtime.record import RuntimeRecord, record_served, write_runtime
from runtime.serve_api import APPLICATIONS
from runtime.settings import RuntimeSettings
from tests.tables import write_features

DASHBOARD = "http://127.0.0.1:8265"
GATEWAY = "http://127.0.0.1:8000"
RECORD = RuntimeRecord(
    dashboard_url=DASHBOARD, http_url=GATEWAY, grpc_port=9000, metrics_port=8080, ingress="proxy"
)


class ServeDouble:
    """Like Serve, a PUT replaces the whole config: each application in it is DEPLOYING for
    `deploy_reads` status reads, then RUNNING (or DEPLOY_FAILED with its message in `failing`),
    and the others are deleted. The gateway answers /ready 503 with `gateway_failure` while
    one is set (a version it could not load), 503 naming what it awaits while an application is
    not RUNNING or `gateway_waiting` names something, else 200."""

    def __init__(self, deploy_reads: int = 1):
        self.deploy_reads = deploy_reads
        self.configs: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.failing: dict[str, str] = {}
        self.gateway_failure: str | None = None
        self.gateway_waiting: list[str] = []
        self.refuse_with: int | None = None
        self.on_put = lambda: None
        self._reads_left: dict[str, int] = {}
        self.transport = httpx.MockTransport(self._handle)

    @staticmethod
    def gateway(config: dict) -> dict:
        """The gateway's `user_config` in a config PUT: its table and the revision it serves."""
        application = next(a for a in config["applications"] if a["name"] == "gateway")
        return application["deployments"][0]["user_config"]

    def weights(self, config: dict, model: str = "fraud") -> dict[int, int]:
        """The model's weights in the gateway's table of a config PUT."""
        traffic = self.gateway(config)["traffic"]["models"][model]
        return {int(v): w for v, w in traffic["weights"].items()}

    def _status(self, name: str) -> dict:
        if self._reads_left[name] > 0:
            return {"status": "DEPLOYING", "message": ""}
        if name in self.failing:
            return {"status": "DEPLOY_FAILED", "message": self.failing[name]}
        return {"status": "RUNNING", "message": ""}

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, f"{request.url.host}:{request.url.port}{request.url.path}"))
        if f"http://{request.url.host}:{request.url.port}" == GATEWAY and request.url.path == "/ready":
            return self._ready()
        assert request.headers["authorization"].startswith("Bearer "), "the dashboard needs the token"
        if self.refuse_with is not None:
            return httpx.Response(self.refuse_with, text="Serve is shutting down")
        assert request.url.path == APPLICATIONS, request.url.path
        if request.method == "PUT":
            config = json.loads(request.content)
            self.configs.append(config)
            self._reads_left = {a["name"]: self.deploy_reads for a in config["applications"]}
            self.on_put()
            return httpx.Response(200)
        applications = {name: self._status(name) for name in self._reads_left}
        self._reads_left = {name: left - 1 for name, left in self._reads_left.items()}
        return httpx.Response(200, json={"applications": applications})

    def _ready(self) -> httpx.Response:
        if self.gateway_failure is not None:
            return httpx.Response(503, json={"ready": False, "failed": self.gateway_failure})
        waiting = [n for n, left in self._reads_left.items() if left > 0 or n in self.failing]
        waiting += self.gateway_waiting
        if waiting:
            return httpx.Response(503, json={"ready": False, "waiting": waiting})
        return httpx.Response(200, json={"ready": True})


def running(settings: RuntimeSettings, desired: DesiredState) -> DesiredState:
    """Record a runtime `up` started under `settings`, serving `desired`; returns it as recorded."""
    write_runtime(settings, RECORD)
    return record_served(settings, desired, based_on=0)


def two_versions(root: Path) -> ModelStore:
    """A model store under `root` holding fraud:1 and fraud:2 (small HBOS detectors)."""
    write_features(root / "t.csv", np.random.default_rng(0).normal(size=(100, 2)))
    store = ModelStore(str(root / "models"))
    for _ in range(2):
        train(TrainRequest("fraud", "hbos", str(root / "t.csv")), store)
    return store
