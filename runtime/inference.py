"""The gateway's core: route a request by the traffic table, score it, mirror it to shadows.

Independent of the transport (HTTP, WebSocket, gRPC): adapters parse, call `Inference`, and map
`ServingError`s to status codes through `runtime.errors`.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.errors import InvalidInput
from runtime.codec import Answer, Rows
from runtime.desired import app_name
from runtime.errors import NotReady, TooLarge, UnknownModel, VersionNotDeployed, status_of
from runtime.metrics import GatewayMetrics
from runtime.traffic import SHADOW, ModelTraffic, Route, TrafficTable, route

logger = logging.getLogger("raynomaly.gateway")
DESCRIBE_TIMEOUT_S = 10.0


class GatewayConfig(BaseModel):
    """The gateway's `user_config`: traffic table and limits (replaced whole, atomically)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    traffic: TrafficTable = Field(default_factory=TrafficTable)
    shadow_max_in_flight: int = 64
    max_body_bytes: int = 64 * 2**20
    max_rows: int = 100_000


class Inference:
    """Routes, scores and mirrors; one per gateway replica."""

    def __init__(
        self, handle_for: Callable[[str], object], metrics: GatewayMetrics, rng: random.Random | None = None
    ):
        self.config = GatewayConfig()
        self._handle_for = handle_for
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._described: dict[str, dict] = {}
        self._shadows_in_flight = 0
        self._background: set[asyncio.Task] = set()

    def configure(self, config: GatewayConfig) -> None:
        """Swap in a new table (one assignment: every request sees the old or the new one)."""
        self.config = config

    def traffic(self, model: str) -> ModelTraffic:
        """The model's traffic, or UnknownModel listing the served models."""
        models = self.config.traffic.models
        if model not in models:
            served = ", ".join(sorted(models)) or "none"
            raise UnknownModel(f"model {model!r} is not served; served models: {served}")
        return models[model]

    def route(self, model: str, pinned: str | None, sticky: str | None) -> Route:
        """The route of one request (draws from this replica's random generator)."""
        traffic = self.traffic(model)
        version = None
        if pinned is not None:
            if not pinned.isdigit() or int(pinned) not in traffic.versions:
                raise VersionNotDeployed(
                    f"version {pinned!r} of {model} is not deployed; deployed: {traffic.versions}"
                )
            version = int(pinned)
        return route(traffic, self._rng.random() * 100, self._rng.random() * 100, version, sticky)

    async def describe(self, model: str, version: int) -> dict:
        """Features and threshold of a version (asked once per version, then cached)."""
        name = app_name(model, version)
        if name not in self._described:
            try:
                handle = self._handle_for(name)
                self._described[name] = await asyncio.wait_for(handle.describe.remote(), DESCRIBE_TIMEOUT_S)
            except TimeoutError as e:
                raise NotReady(f"{model} version {version} is not ready yet; retry shortly") from e
        return self._described[name]

    def check_body(self, body_bytes: int) -> None:
        """TooLarge if a body is over the limit."""
        if body_bytes > self.config.max_body_bytes:
            raise TooLarge(
                f"body of {body_bytes:,} bytes is over the limit of {self.config.max_body_bytes:,}"
            )

    def check_rows(self, rows: int) -> None:
        """TooLarge if a request holds too many rows."""
        if rows > self.config.max_rows:
            raise TooLarge(f"{rows:,} rows is over the limit of {self.config.max_rows:,} per request")

    async def predict(self, model: str, rows: Rows, pinned: str | None = None, sticky: str | None = None,
                      chosen: Route | None = None) -> Answer:  # fmt: skip
        """Score `rows` with the routed version; mirror them to shadows without waiting."""
        started = time.perf_counter()
        path = chosen or self.route(model, pinned, sticky)
        self.check_rows(len(rows))
        outcome, answered, labels = "server_error", None, None
        try:
            described = await self.describe(model, path.version)
            matrix = rows.matrix(described["feature_names"])
            for mirror in path.mirrors:
                if answered is None:
                    answered = asyncio.get_running_loop().create_future()
                self._mirror(model, mirror, matrix, answered)
            scores, labels = await self._handle_for(app_name(model, path.version)).score.remote(
                matrix, path.role
            )
            outcome = "ok"
            return Answer(model, path.version, described["threshold"], scores, labels)
        except Exception as e:
            outcome = "client_error" if 400 <= status_of(e)[0] < 500 else "server_error"
            raise
        finally:
            if answered is not None:
                answered.set_result(labels if outcome == "ok" else None)
            latency = (time.perf_counter() - started) * 1000
            self._metrics.record(model, path.version, path.role, outcome, latency)

    def _mirror(self, model: str, version: int, matrix, answered: asyncio.Future) -> None:
        if self._shadows_in_flight >= self.config.shadow_max_in_flight:
            self._metrics.shadow_dropped.inc(1, {"model": model, "version": str(version)})
            return
        self._shadows_in_flight += 1
        task = asyncio.get_running_loop().create_task(self._shadow(model, version, matrix, answered))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _shadow(self, model: str, version: int, matrix, answered: asyncio.Future) -> None:
        """Score a copy (its latency is its own); once the caller's answer is in, count the rows
        whose labels agree with it."""
        started = time.perf_counter()
        outcome, labels = "ok", None
        try:
            described = await self.describe(model, version)
            if described["n_features"] != matrix.shape[1]:
                raise InvalidInput(f"shadow {model}:{version} expects {described['n_features']} features")
            _, labels = await self._handle_for(app_name(model, version)).score.remote(matrix, SHADOW)
        except Exception as e:  # a shadow never changes the caller's answer; it is counted and logged
            outcome = "client_error" if 400 <= status_of(e)[0] < 500 else "server_error"
            logger.warning("shadow copy to %s:%s failed: %s", model, version, e)
        finally:
            self._shadows_in_flight -= 1
            self._metrics.record(model, version, SHADOW, outcome, (time.perf_counter() - started) * 1000)
        primary = await answered
        if labels is not None and primary is not None:
            agree = int(np.count_nonzero(np.asarray(primary) == np.asarray(labels)))
            self._metrics.record_agreement(model, version, agree, len(labels) - agree)
