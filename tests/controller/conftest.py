"""Fixtures of the controller's tests: real Prometheus servers for the metric sources."""

from collections.abc import Callable, Iterator

import pytest

from tests.prometheus import PrometheusServer


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
