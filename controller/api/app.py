"""The control API (FastAPI). Reads go to the store; actions become records or commands that the
controller loop carries out, so a request never races the loop on the target."""

import pathlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from controller.api.deletion import delete_versions
from controller.api.errors import STATUS, headers_of, http_status
from controller.api.guard import guard
from controller.api.openapi import (
    CHANGING,
    LARGEST,
    MISSING,
    PROMETHEUS,
    PROTECTED,
    UNAVAILABLE,
    UNREADABLE,
    StatusBody,
)
from controller.api.promotions import promotion_routes
from controller.api.refusals import Refusals
from controller.api.registry import registry_routes
from controller.api.targets import resolve, target_ref
from controller.api.telemetry import AuditCollector, RolloutCollector
from controller.environments.promotion import Promotions
from controller.environments.spec import DEFAULTS, Environments
from controller.kuberay.manifests import parse_image
from controller.revocations import publish
from controller.rollouts.create import new_rollout
from controller.rollouts.decide import check_command
from controller.rollouts.flat import nest
from controller.rollouts.spec import COMMANDS, RolloutSpec
from controller.sources.alerts import AlertSource, NoAlerts
from controller.store.spec import RolloutStore
from controller.targets.spec import Target, TargetRef
from models.drift import bin_counts
from models.errors import ModelNotFound
from models.store import ModelStore, check_name
from runtime.conflict import Conflict
from runtime.ratelimit import RateLimiter
from runtime.tokens import Principal, check_token_id

MIN_INTERVAL_S = 1.0
"""The shortest analysis window a deploy may ask for: shorter ones only measure noise and load the
metric source."""
MAX_AUDIT_PAGE = 10_000


@dataclass
class Services:
    store: RolloutStore
    targets: Callable[[TargetRef], Target]
    models: ModelStore
    secret: str
    limiter: RateLimiter
    alive: Callable[[], bool]
    clock: Callable[[], float] = time.time
    refusals: Refusals = field(default_factory=Refusals)
    revoked_file: pathlib.Path | None = None
    """Where revoked token ids are published for the gateway (`controller.revocations`)."""
    environments: Environments = field(default_factory=lambda: Environments(environments=DEFAULTS))
    alerts: AlertSource = field(default_factory=NoAlerts)
    """What fired about a version during its soak (Prometheus's alerts, where it is read)."""


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

    @model_validator(mode="after")
    def _bounded(self) -> "_Deploy":
        interval = getattr(self, "interval_s", MIN_INTERVAL_S)
        if interval < MIN_INTERVAL_S:
            raise ValueError(f"interval_s {interval:g}: an analysis window is at least {MIN_INTERVAL_S:g} s")
        upgrade = getattr(self, "upgrade", None)
        if upgrade is not None:
            parse_image(upgrade.image)  # ValueError saying which references are valid
        return self

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
    versions_change = threading.Lock()
    """Held by deploy and delete from check to write, so a version is never deleted between a
    deploy's check that it exists and the rollout that names it."""

    viewer, deployer, admin = guard(app, services)
    audit_chain = AuditCollector(store)
    promotions = Promotions(store, services.environments, services.models, services.targets,
                            services.alerts, services.clock)  # fmt: skip
    answers = {
        "changing": {**CHANGING, **MISSING, **UNAVAILABLE, **UNREADABLE},
        "reading": {**PROTECTED, **MISSING, **UNAVAILABLE},
    }
    app.include_router(promotion_routes(promotions, viewer, deployer, versions_change, answers))
    app.include_router(registry_routes(services, viewer, answers))

    async def translate(request: Request, error: Exception):
        status = http_status(error)
        return JSONResponse({"detail": str(error)}, status_code=status, headers=headers_of(status))

    for kind in STATUS:
        app.add_exception_handler(kind, translate)

    @app.exception_handler(ValidationError)
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: ValidationError | RequestValidationError):
        return JSONResponse({"detail": _validation_text(error)}, status_code=422)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    stopped = {503: {"model": StatusBody, "description": "The controller loop is not running."}}

    @app.get("/ready", response_model=StatusBody, responses=stopped)
    def ready() -> Response:
        store.list(active=True)
        if not services.alive():
            return JSONResponse({"status": "the controller loop is not running"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get(
        "/metrics",
        dependencies=[Depends(viewer)],
        responses={**PROTECTED, **PROMETHEUS},
        response_class=Response,
    )
    def metrics() -> Response:
        """Every rollout's phase, step, weights and latest analysis, and whether the audit chain
        verifies, in Prometheus's text format."""
        registry = CollectorRegistry()
        registry.register(RolloutCollector(store))
        registry.register(audit_chain)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/v1/models/{model}/deploy", status_code=201,
              responses={**CHANGING, **MISSING, **UNAVAILABLE, **UNREADABLE})  # fmt: skip
    def deploy(model: str, request: DeployRequest, who: Principal = Depends(deployer)) -> dict:
        check_name(model)
        spec = request.spec(model)
        with versions_change:
            manifest = services.models.manifest(model, spec.candidate)  # refuses unknown or tampered ones
            bins = bin_counts(manifest.feature_names, manifest.feature_bins)
            served = resolve(services.targets, spec.target).served(model)
            rollout = new_rollout(spec, served, services.clock(), bins)
            return store.create(rollout, who.subject).model_dump(mode="json")

    def delete(model: str, version: int | None, ref: TargetRef, who: Principal) -> dict:
        check_name(model)
        where = resolve(services.targets, ref)
        with versions_change:
            chosen = [version] if version is not None else services.models.versions(model)
            if not chosen:
                raise ModelNotFound(f"no model {model!r} in {services.models.uri}")
            deleted = delete_versions(model, chosen, services.models, store, where, who.subject)
        return {"model": model, "deleted": deleted, "remaining": services.models.versions(model)}

    @app.delete("/api/v1/models/{model}/versions/{version}", responses={**CHANGING, **MISSING, **UNAVAILABLE})
    def delete_version(
        model: str,
        version: int = Path(ge=1),
        who: Principal = Depends(deployer),
        ref: TargetRef = Depends(target_ref),
    ) -> dict:
        """Delete one version, unless it serves (weights or shadows on `target`) or takes part in an
        active rollout (409 naming what uses it)."""
        return delete(model, version, ref, who)

    @app.delete("/api/v1/models/{model}", responses={**CHANGING, **MISSING, **UNAVAILABLE})
    def delete_model(
        model: str, who: Principal = Depends(deployer), ref: TargetRef = Depends(target_ref)
    ) -> dict:
        """Delete every version of a model, unless one is in use (409 naming it; nothing deleted)."""
        return delete(model, None, ref, who)

    @app.get("/api/v1/rollouts", dependencies=[Depends(viewer)], responses=PROTECTED)
    def rollouts(model: str | None = None, active: bool | None = None) -> list[dict]:
        return [r.model_dump(mode="json") for r in store.list(model, active)]

    @app.get(
        "/api/v1/rollouts/{rollout_id}", dependencies=[Depends(viewer)], responses={**PROTECTED, **MISSING}
    )
    def rollout(rollout_id: str) -> dict:
        record = _get(store, rollout_id)
        return {"rollout": record.model_dump(mode="json"), "events": store.events(rollout_id)}

    @app.post("/api/v1/rollouts/{rollout_id}/{command}", status_code=202, responses={**CHANGING, **MISSING})
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

    @app.get("/api/v1/audit", dependencies=[Depends(admin)], responses=PROTECTED)
    def audit(
        since: int = Query(0, ge=0, le=LARGEST),
        limit: int = Query(1000, ge=1, le=MAX_AUDIT_PAGE),
        full: bool = Query(False, description="Verify the whole log, not only what was added since."),
    ) -> dict:
        entries = store.audit(since, limit)
        verification = store.verify_audit(full)
        return {
            "valid": verification.broken_at is None,
            "broken_at": verification.broken_at,
            "legacy_until": verification.legacy_until,
            "entries": [vars(e) for e in entries],
        }

    @app.post("/api/v1/tokens/{jti}/revoke", responses=PROTECTED)
    def revoke(jti: str, who: Principal = Depends(admin)) -> dict:
        """Deny the token with this id (`jti`, printed when it was minted) from now on."""
        store.revoke(check_token_id(jti), who.subject)
        if services.revoked_file is not None:
            publish(store, services.revoked_file)
        return {"jti": jti, "revoked": True}

    return app


def _get(store: RolloutStore, rollout_id: str):
    record = store.get(rollout_id)
    if record is None:
        raise LookupError(f"no rollout {rollout_id!r}; list them with 'raynomaly rollout history'")
    return record


def _validation_text(error: ValidationError | RequestValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())
