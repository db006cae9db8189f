"""The gateway's core: route a request by the traffic table, score it, mirror it to shadows.

Independent of the transport (HTTP, WebSocket, gRPC): adapters parse, call `Inference`, and map
`ServingError`s to status codes through `runtime.errors`. Every version the table names is made
ready by its placement (loaded inline, or its dedicated application answering) before the table
takes effect; table and scorers are then swapped at once.
"""

import asyncio
import logging
import random
import time

import numpy as np

from models.errors import InvalidInput
from runtime import request_ids
from runtime.access import Gatekeeper
from runtime.codec import Answer, Rows
from runtime.desired import GatewayConfig
from runtime.errors import (
    BadRequest,
    RateLimited,
    ServingError,
    TooLarge,
    UnknownModel,
    VersionNotDeployed,
    http_status,
    unquoted,
)
from runtime.metrics import GatewayMetrics
from runtime.placement import PLACEMENTS, Context, Place, Unavailable, VersionScorer
from runtime.series import CLIENT_ERROR, FORBIDDEN, OK, RATE_LIMITED, SERVER_ERROR, UNAUTHENTICATED
from runtime.spans import annotate, span
from runtime.tokens import Forbidden, Principal, Unauthorized
from runtime.traffic import SHADOW, ModelTraffic, Route, route
from runtime.version import Description

logger = logging.getLogger("raynomaly.gateway")


def _pinned(model: str, traffic: ModelTraffic, pinned: str) -> int:
    """The version a request pins, or VersionNotDeployed (pure)."""
    if not (pinned.isascii() and pinned.isdigit()) or int(pinned) not in traffic.versions:
        deployed = traffic.versions
        raise VersionNotDeployed(f"version {pinned!r} of {model} is not deployed; deployed: {deployed}")
    return int(pinned)


class Inference:
    """Routes, scores and mirrors; one per gateway replica."""

    def __init__(self, context: Context, metrics: GatewayMetrics, rng: random.Random | None = None,
                 placements: dict[str, Place] = PLACEMENTS):  # fmt: skip
        self.config = GatewayConfig()
        self.gate = Gatekeeper(None)
        self._context, self._metrics, self._placements = context, metrics, placements
        self._rng = rng or random.Random()
        self._scorers: dict[tuple[str, int], VersionScorer] = {}
        self._shadows_in_flight = 0
        self._background: set[asyncio.Task] = set()

    async def configure(self, config: GatewayConfig) -> None:
        """Make every version of `config` ready, then swap table and scorers in one step (every
        request sees the old or the new ones). `placement.Unavailable` if a version cannot be made
        ready, or the signing secret of `config.access` cannot be read: nothing changes then.
        Versions no longer named are dropped; clients' quotas carry over while access is unchanged."""
        gate = self.gate
        if not gate.same(config.access, config.replicas):
            try:
                gate = Gatekeeper(config.access, config.replicas)
            except (OSError, ValueError) as e:
                raise Unavailable(f"inference authentication cannot start: {e}") from None
        placed = {(v.model, v.version): v for v in self.config.versions}  # the table serving now
        scorers = {}
        for version in config.versions:
            key, placement = (version.model, version.version), version.options.effective_placement
            current, before = self._scorers.get(key), placed.get(key)
            if current is not None and before.options.effective_placement == placement:
                settings = version.options.settings
                if version.inline and before.options.settings != settings:
                    current.configure(settings.batching, settings.input_drift)
                scorers[key] = current
            else:
                scorers[key] = await self._placements[placement](version, config.store, self._context)
        self.config, self._scorers, self.gate = config, scorers, gate

    def admit(self, authorization: str | None) -> Principal | None:
        """The caller of a request, its quota spent (None when access is open); Unauthorized or
        RateLimited, counted."""
        try:
            who = self.gate.authenticate(authorization)
            self.gate.throttle(who)
            return who
        except Unauthorized:
            self._metrics.record_refused(UNAUTHENTICATED)
            raise
        except RateLimited:
            self._metrics.record_refused(RATE_LIMITED)
            raise

    def throttle(self, who: Principal | None) -> None:
        """Spend one request of an admitted caller's quota (each message of a stream); RateLimited."""
        try:
            self.gate.throttle(who)
        except RateLimited:
            self._metrics.record_refused(RATE_LIMITED)
            raise

    def traffic(self, model: str) -> ModelTraffic:
        """The model's traffic, or UnknownModel listing the served models (the model is noted as
        the current request's, for its logs)."""
        request_ids.note(model=model)
        models = self.config.traffic.models
        if model not in models:
            served = ", ".join(sorted(models)) or "none"
            raise UnknownModel(f"model {model!r} is not served; served models: {served}")
        return models[model]

    def route(self, model: str, pinned: str | None, sticky: str | None,
              who: Principal | None = None) -> Route:  # fmt: skip
        """The route of one request by `who` (Forbidden, counted, if its token may not score `model`;
        draws from this replica's random generator)."""
        self._allow(who, model)
        traffic = self.traffic(model)
        version = None if pinned is None else _pinned(model, traffic, pinned)
        return route(traffic, self._rng.random() * 100, self._rng.random() * 100, version, sticky)

    def described(self, model: str, pinned: str | None, who: Principal | None = None) -> Description:
        """What a model's pinned version, or its stable one, takes and answers (Forbidden, counted,
        if `who` may not score `model`)."""
        self._allow(who, model)
        traffic = self.traffic(model)
        version = traffic.stable_version if pinned is None else _pinned(model, traffic, pinned)
        return self.scorer(model, version).description

    def _allow(self, who: Principal | None, model: str) -> None:
        try:
            self.gate.allow(who, model)
        except Forbidden:
            self._metrics.record_refused(FORBIDDEN)
            raise

    def scorer(self, model: str, version: int) -> VersionScorer:
        """The ready scorer of a version in the table (a long-lived stream may outlive its version)."""
        scorer = self._scorers.get((model, version))
        if scorer is None:
            raise VersionNotDeployed(f"{model} version {version} is no longer served; reconnect")
        return scorer

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
                      chosen: Route | None = None, who: Principal | None = None) -> Answer:  # fmt: skip
        """Score `rows` for `who` with the routed version; mirror them to shadows without waiting."""
        started = time.perf_counter()
        with span("route", model=model, rows=len(rows)) as routing:
            path = chosen or self.route(model, pinned, sticky, who)
            annotate(routing, version=path.version, role=path.role)
        request_ids.note(version=path.version)
        self.check_rows(len(rows))
        outcome, answered, labels = SERVER_ERROR, None, None
        try:
            scorer = self.scorer(model, path.version)
            matrix = self._matrix(model, path.version, rows, scorer.description.feature_names)
            for mirror in path.mirrors:
                if answered is None:
                    answered = asyncio.get_running_loop().create_future()
                self._mirror(model, mirror, matrix, answered)
            with span("score", model=model, version=path.version, role=path.role, rows=len(matrix)):
                scores, labels = await scorer.score(matrix, path.role)
            outcome = OK
            return Answer(model, path.version, scorer.description.threshold, scores, labels)
        except Exception as e:
            outcome = CLIENT_ERROR if 400 <= http_status(e) < 500 else SERVER_ERROR
            raise
        finally:
            if answered is not None:
                answered.set_result(labels if outcome == OK else None)
            latency = (time.perf_counter() - started) * 1000
            self._metrics.record(model, path.version, path.role, outcome, latency)

    def _matrix(self, model: str, version: int, rows: Rows, feature_names: list[str]) -> np.ndarray:
        """The validated rows for a version; refused rows are counted by feature and issue first."""
        try:
            return rows.matrix(feature_names)
        except (BadRequest, InvalidInput):
            self._metrics.record_issues(model, version, rows.issues(feature_names))
            raise

    def _mirror(self, model: str, version: int, matrix, answered: asyncio.Future) -> None:
        if self._shadows_in_flight >= self.config.shadow_max_in_flight:
            self._metrics.record_dropped(model, version)
            return
        self._shadows_in_flight += 1
        scorer = self._scorers[(model, version)]  # mirrors are versions of the table: placed
        task = asyncio.get_running_loop().create_task(self._shadow(scorer, matrix, answered))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _shadow(self, scorer: VersionScorer, matrix, answered: asyncio.Future) -> None:
        """Once the caller's answer is in (a copy never delays it), score the copy (its latency is its
        own) and count the rows whose labels agree with the answer."""
        primary = await answered
        model, version = scorer.description.model, scorer.description.version
        started = time.perf_counter()
        outcome, labels = OK, None
        try:
            if scorer.description.n_features != matrix.shape[1]:
                raise InvalidInput(
                    f"shadow {model}:{version} expects {scorer.description.n_features} features"
                )
            with span("shadow", model=model, version=version, role=SHADOW, rows=len(matrix)):
                _, labels = await scorer.score(matrix, SHADOW)
        except Exception as e:  # a shadow never changes the caller's answer; it is counted and logged
            outcome = CLIENT_ERROR if 400 <= http_status(e) < 500 else SERVER_ERROR
            said = e if isinstance(e, ServingError | InvalidInput) else unquoted(e)  # ours quote no rows
            logger.warning(
                "shadow copy to %s:%s failed: %s", model, version, said,
                extra={"version": version, "role": SHADOW, "status": http_status(e)},
            )  # fmt: skip
        finally:
            self._shadows_in_flight -= 1
            self._metrics.record(model, version, SHADOW, outcome, (time.perf_counter() - started) * 1000)
        if labels is not None and primary is not None:
            agree = int(np.count_nonzero(np.asarray(primary) == np.asarray(labels)))
            self._metrics.record_agreement(model, version, agree, len(labels) - agree)
