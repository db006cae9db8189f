"""The control API's model registry: the models (filtered and paged), each version's record (its
training, parity, what its rollouts saw of it, where it serves now) and which version served each
environment when."""

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Query, Request, Response

from controller.api.openapi import LARGEST, TAMPERED
from controller.api.targets import resolve, target_ref
from controller.api.versions import version_record, where_served
from controller.environments.history import Period, environment_of, first_known, periods, serving_at
from controller.targets.spec import Target, TargetRef
from models.errors import IntegrityError, ModelNotFound
from models.store import check_name

if TYPE_CHECKING:
    from controller.api.app import Services

LAST_TIME = 253402300799.0
"""9999-12-31T23:59:59Z, the last instant a time can name."""
TEXT = 200
"""The longest filter value."""
PAGED = {
    200: {
        "description": "One page of models, as a JSON list.",
        "headers": {
            "X-Total-Count": {"description": "Models matching the filters.", "schema": {"type": "integer"}},
            "Link": {
                "description": 'The next page (RFC 8288, rel="next"), while there is one.',
                "schema": {"type": "string"},
            },  # fmt: skip
        },
    }
}


def registry_routes(services: "Services", viewer: Callable, responses: dict) -> APIRouter:
    """The routes over `services`' model store, rollout records, environments and targets."""
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(viewer)])
    reading = responses["reading"]

    @router.get("/models", responses={**PAGED, **reading})
    def models(
        request: Request,
        response: Response,
        name: str | None = Query(None, max_length=TEXT, description="Only models whose name holds this."),
        detector: str | None = Query(None, max_length=TEXT, description="Only this newest detector."),
        backend: str | None = Query(None, max_length=TEXT, description="Only this newest backend."),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=LARGEST),
        ref: TargetRef = Depends(target_ref),
    ) -> list[dict]:
        """The models (newest version's detector and backend, every version, traffic on `target`),
        by name; `X-Total-Count` counts the matches and `Link` names the next page while there is one."""
        where = resolve(services.targets, ref)
        chosen = [n for n in services.models.models() if name is None or name in n]
        newest: dict[str, dict] = {}
        if detector is not None or backend is not None:  # else only the page's manifests are read
            newest = {n: _newest(services, n) for n in chosen}
            chosen = [n for n in chosen if _matches(newest[n], detector, backend)]
        response.headers["X-Total-Count"] = str(len(chosen))
        if offset + limit < len(chosen):
            following = request.url.include_query_params(offset=offset + limit, limit=limit)
            response.headers["Link"] = f'<{following}>; rel="next"'
        page = chosen[offset : offset + limit]
        return [_model(services, n, newest.get(n) or _newest(services, n), where) for n in page]

    @router.get("/models/{model}/versions", responses={**reading, **TAMPERED})
    def versions(model: str) -> list[dict]:
        """Every version: its manifest summary, training summary and parity report, what each
        rollout of it as the candidate saw at its latest look, and its weight and shadow percent in
        each environment now (`{"error": ...}` for an environment whose target did not answer)."""
        check_name(model)
        numbers = services.models.versions(model)
        if not numbers:
            raise ModelNotFound(f"no model {model!r} in {services.models.uri}")
        rollouts = services.store.list(model)
        served = where_served(services.environments, services.targets, model)
        return [
            version_record(services.models.manifest(model, v), rollouts, services.store.latest_look, served)
            for v in numbers
        ]

    @router.get("/models/{model}/history", responses=reading)
    def history(
        model: str,
        environment: str | None = Query(None, min_length=1, max_length=TEXT),
        at: float | None = Query(None, ge=0, le=LAST_TIME, description="Unix seconds."),
    ) -> list[dict] | dict:
        """The periods in which each version served all of an environment's traffic, newest first,
        rollouts in progress first; with `at` (and `environment`), the one period holding that time
        (404 naming the first time the records know of)."""
        check_name(model)
        rollouts = services.store.list(model)
        if not rollouts and model not in services.models.models():
            raise ModelNotFound(f"no model {model!r} in {services.models.uri} and no rollout of it")
        known = sorted({*services.environments.environments, *map(environment_of, rollouts)})
        if environment is not None and environment not in known:
            raise LookupError(f"no environment {environment!r} for {model}; choose one of {', '.join(known)}")
        found = periods(model, rollouts, environment)
        if at is None:
            return [_period(p) for p in found]
        if environment is None:
            raise ValueError(f"at: name the environment too (?environment=...; one of {', '.join(known)})")
        holding = serving_at(found, at)
        if not holding:
            raise LookupError(_unknown(model, environment, at, first_known(found)))
        return _period(holding[0])

    return router


def _newest(services: "Services", model: str) -> dict:
    """The newest version's detector and backend (its `problem` where its manifest does not verify)."""
    try:
        manifest = services.models.manifest(model)
    except IntegrityError as e:
        return {"detector": None, "backend": None, "problem": str(e)}
    return {"detector": manifest.detector, "backend": manifest.backend}


def _matches(newest: dict, detector: str | None, backend: str | None) -> bool:
    return detector in (None, newest["detector"]) and backend in (None, newest["backend"])


def _model(services: "Services", name: str, newest: dict, target: Target) -> dict:
    """A model's versions in the store, its newest version's detector and backend, and its traffic
    on `target`."""
    traffic = target.served(name).traffic
    return {
        "model": name,
        "versions": services.models.versions(name),
        **newest,
        "traffic": traffic.model_dump(mode="json") if traffic else None,
    }


def _period(period: Period) -> dict:
    fields = asdict(period)
    return {"environment": fields.pop("environment"), "version": fields.pop("version"),
            "from": fields.pop("start"), "to": fields.pop("end"), **fields}  # fmt: skip


def _unknown(model: str, environment: str, at: float, first: float | None) -> str:
    """Why no period holds `at`: the records begin later, or show none at all."""
    if first is None:
        return (f"the rollout records show no version of {model} serving all of {environment}; "
                f"list its rollouts with 'raynomaly rollout history {model}'")  # fmt: skip
    return (f"the rollout records do not say which version of {model} served {environment} at "
            f"{_iso(at)}: they begin at {_iso(first)} (at={first:.0f} or later)")  # fmt: skip


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
