"""The gateway's own handlers bound to a doubled inference core instead of a Serve replica (no Ray):
its gRPC methods called on a `Replica`, and its FastAPI app, `runtime.gateway.api`, served in-process
with the replica as the `self` that Serve would inject."""

import contextlib
import inspect
from collections.abc import Iterator

from fastapi import FastAPI

import runtime.gateway
from runtime.oip.http import OpenInferenceHttp
from runtime.oip.servicer import OpenInferenceGrpc
from runtime.probes import Health
from runtime.traffic import ModelTraffic
from tests.runtime.test_inference import MetricsDouble, ScorerDouble, gateway

LIMITS = {"max_rows": 50, "max_body_bytes": 64 * 1024}
Gateway = runtime.gateway.Gateway.func_or_class  # the class serve.ingress wraps


class Replica(OpenInferenceHttp, OpenInferenceGrpc, Health):
    """The gateway's handlers, bound to a doubled core instead of a Serve replica."""

    _body, _sticky, _batch = Gateway._body, Gateway._sticky, Gateway._batch
    predict, predict_batch, streaming = Gateway.predict, Gateway.predict_batch, Gateway.streaming
    health, ready, traffic = Gateway.health, Gateway.ready, Gateway.traffic
    Predict, PredictBatch, PredictStream = Gateway.Predict, Gateway.PredictBatch, Gateway.PredictStream
    problem: str | None = None

    def __init__(self, inference):
        self.inference = inference


def serving(**limits):
    """(inference, metrics): the core serving fraud:1 (scores = row sum + 1) within `LIMITS`."""
    inference, metrics, _ = gateway(
        {1: ScorerDouble(1)}, ModelTraffic(weights={1: 100}), **{**LIMITS, **limits}
    )
    return inference, metrics


def _endpoints(routes) -> Iterator:
    """Every endpoint of `routes`, also those of routers included in them."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _endpoints(included.routes)
        elif hasattr(route, "endpoint"):
            yield route.endpoint


def _servable(app: FastAPI):
    """The dependency by which Serve hands the gateway's routes their replica (their `self`)."""
    selves = (
        inspect.signature(endpoint).parameters.get("self") for endpoint in _endpoints(app.router.routes)
    )
    return next(this.default.dependency for this in selves if this is not None)


@contextlib.contextmanager
def served(replica: Replica) -> Iterator[FastAPI]:
    """`runtime.gateway.api` answering with `replica` while the block runs."""
    app = runtime.gateway.api
    servable = _servable(app)
    app.dependency_overrides[servable] = lambda: replica
    try:
        yield app
    finally:
        del app.dependency_overrides[servable]


__all__ = ["LIMITS", "MetricsDouble", "Replica", "served", "serving"]
