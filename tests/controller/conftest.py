"""Fixtures of the controller's tests: a model store with fraud v1 and v2, and real Prometheus
servers for the metric sources."""

from collections.abc import Callable, Iterator

import pytest

from models.store import ModelStore
from tests.prometheus import PrometheusServer


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> ModelStore:
    """A model store holding fraud v1 (an isolation forest) and v2 (HBOS), one per test module."""
    from models.demo import write
    from models.training import TrainRequest, train

    root = tmp_path_factory.mktemp("models")
    write(root / "demo")
    store = ModelStore(str(root / "models"))
    for detector in ("iforest", "hbos"):
        train(TrainRequest("fraud", detector, str(root / "demo" / "train.csv"), params={}), store)
    return store


@pytest.fixture
def prometheus_server() -> Iterator[Callable[..., PrometheusServer]]:
    """`prometheus_server(["127.0.0.1:8080"], metrics_path="/metrics")` starts a real Prometheus
    (scraping every second) and returns it ready; every one started is stopped at teardown."""
    started: list[PrometheusServer] = []

    def start(targets: list[str], metrics_path: str = "/metrics") -> PrometheusServer:
        server = PrometheusServer(targets, metrics_path)
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.stop()
