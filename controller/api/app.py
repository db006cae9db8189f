"""The control API (FastAPI). Reads go to the store; actions become records or commands that the
controller loop carries out, so a request never races the loop on the target."""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from controller.api.auth import Forbidden, Principal, authenticate, require
from controller.api.errors import STATUS, headers_of, http_status
from controller.api.ratelimit import RateLimiter
from controller.api.telemetry import RolloutCollector
from controller.audit import verify
from controller.rollouts.create import new_rollout
from controller.rollouts.decide import check_command
from controller.rollouts.flat import nest
from controller.rollouts.spec import COMMANDS, RolloutSpec
from controller.store.spec import RolloutStore
from controller.targets.spec import Target, TargetRef
from models.errors import ModelNotFound
from models.manifest import Manifest
from models.store import ModelStore, check_name
from runtime.conflict import Conflict

UNLIMITED = ("/health", "/ready")


@dataclass
class Services:
    store: RolloutStore
    targets: Callable[[TargetRef], Target]
    models: ModelStore
    secret: str
    limiter: RateLimiter
    alive: Callable[[], bool]
    clock: Callable[[], float] = time.time


class _Deploy(BaseModel):
    """The part of a deploy request that is not the rollout spec's: the version."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)

    @model_validator(mode="before")
    @classmethod
    def _earlier(cls, data: object) -> object:
        """Bodies written for earlier releases: a null meant the default, options were flat."""
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if value is not None}
        return nest(data)

    def spec(self, model: str) -> RolloutSpec:
        given = self.model_dump(exclude_unset=True, exclude={"version"})
        return RolloutSpec(model=model, candidate=self.version, **given)


DeployRequest = create_model(
    "DeployRequest",
    __base__=_Deploy,
    __doc__="""`POST /api/v1/models/{model}/deploy`: the version and how to roll it out, as every field
    of the rollout spec but the model (the path names it), so a new spec field needs no change here.
    The flat shape of earlier releases (`"strategy": "canary", "steps": [...]`) is read as the spec
    reads it.""",
    **{
        name: (field.annotation, field)
        for name, field in RolloutSpec.model_fields.items()
        if name not in ("model", "candidate")
    },
)


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="raynomaly control API", version="1")
    store = services.store

    def principal(role: str) -> Callable[[Request], Principal]:
        def check(request: Request) -> Principal:
            who = authenticate(services.secret, request.headers.get("authorization"))
            try:
                require(who, role)
            except Forbidden:
                store.record_action(who.subject, "denied", None, {"path": request.url.path, "needs": role})
                raise
            return who

        return check

    viewer, deployer, admin = principal("viewer"), principal("deployer"), principal("admin")

    @app.middleware("http")
    async def rate_limit(request: Request, call_next):
        if request.url.path not in UNLIMITED:
            credential = request.headers.get("authorization", "")
            key = hashlib.sha256(credential.encode()).hexdigest()[:16] if credential else request.client.host
            wait = services.limiter.take(key)
            if wait is not None:
                return JSONResponse(
                    {
                        "detail": f"rate limit of {services.limiter.rate:g} requests/s exceeded; "
                        f"retry in {wait:.1f} s"
                    },
                    status_code=429,
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
        return await call_next(request)

    async def translate(request: Request, error: Exception):
        status = http_status(error)
        return JSONResponse({"detail": str(error)}, status_code=status, headers=headers_of(status))

    for kind in STATUS:
        app.add_exception_handler(kind, translate)

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, error: ValidationError):
        return JSONResponse({"detail": _validation_text(error)}, status_code=422)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> Response:
        store.list(active=True)
        if not services.alive():
            return JSONResponse({"status": "the controller loop is not running"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", dependencies=[Depends(viewer)])
    def metrics() -> Response:
        registry = CollectorRegistry()
        registry.register(RolloutCollector(store))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/models", dependencies=[Depends(viewer)])
    def models(
        target: str = "local", namespace: str | None = None, rayservice: str | None = None
    ) -> list[dict]:
        where = services.targets(TargetRef(kind=target, namespace=namespace, rayservice=rayservice))
        return [_model(services, name, where) for name in services.models.models()]

    @app.get("/api/v1/models/{model}/versions", dependencies=[Depends(viewer)])
    def versions(model: str) -> list[dict]:
        check_name(model)
        if model not in services.models.models():
            raise ModelNotFound(f"no model {model!r} in {services.models.uri}")
        return [_version(services.models.manifest(model, v)) for v in services.models.versions(model)]

    @app.post("/api/v1/models/{model}/deploy", status_code=201)
    def deploy(model: str, request: DeployRequest, who: Principal = Depends(deployer)) -> dict:
        check_name(model)
        spec = request.spec(model)
        services.models.manifest(model, spec.candidate)  # refuses unknown or tampered versions
        rollout = new_rollout(spec, services.targets(spec.target).served(model), services.clock())
        return store.create(rollout, who.subject).model_dump(mode="json")

    @app.get("/api/v1/rollouts", dependencies=[Depends(viewer)])
    def rollouts(model: str | None = None, active: bool | None = None) -> list[dict]:
        return [r.model_dump(mode="json") for r in store.list(model, active)]

    @app.get("/api/v1/rollouts/{rollout_id}", dependencies=[Depends(viewer)])
    def rollout(rollout_id: str) -> dict:
        record = _get(store, rollout_id)
        return {"rollout": record.model_dump(mode="json"), "events": store.events(rollout_id)}

    @app.post("/api/v1/rollouts/{rollout_id}/{command}", status_code=202)
    def command(rollout_id: str, command: str, who: Principal = Depends(deployer)) -> dict:
        if command not in COMMANDS:
            raise LookupError(f"no command {command!r}; use one of {', '.join(COMMANDS)}")
        for _ in range(5):
            record = _get(store, rollout_id)
            check_command(record, command)
            try:
                saved = store.save(
                    record.model_copy(update={"command": command}), who.subject, command, [], {}
                )
            except Conflict:
                continue  # the loop saved in between; check again against the newer record
            return saved.model_dump(mode="json")
        raise Conflict(f"rollout {rollout_id} kept changing; try the command again")

    @app.get("/api/v1/audit", dependencies=[Depends(admin)])
    def audit(since: int = 0, limit: int = 1000) -> dict:
        entries = store.audit(since, limit)
        broken = verify(store.audit(0, 10**9))
        return {"valid": broken is None, "broken_at": broken, "entries": [vars(e) for e in entries]}

    return app


def _get(store: RolloutStore, rollout_id: str):
    record = store.get(rollout_id)
    if record is None:
        raise LookupError(f"no rollout {rollout_id!r}; list them with 'raynomaly rollout history'")
    return record


def _model(services: Services, name: str, target: Target) -> dict:
    """A model's versions in the store and its traffic on `target`."""
    traffic = target.served(name).traffic
    return {
        "model": name,
        "versions": services.models.versions(name),
        "traffic": traffic.model_dump(mode="json") if traffic else None,
    }


def _version(manifest: Manifest) -> dict:
    keys = {"model", "version", "detector", "backend", "n_features", "threshold", "created_at"}
    return manifest.model_dump(mode="json", include=keys)


def _validation_text(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())
