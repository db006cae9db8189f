"""The control API's promotion routes: the environments, a version's eligibility for one, approving
it, and promoting it (which starts that environment's rollout)."""

import threading
from collections.abc import Callable

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from controller.api.openapi import LARGEST
from controller.environments.promotion import Promotions
from models.store import check_name
from runtime.tokens import Principal

TEXT = 2000
"""The longest reason or ticket recorded."""


class PromoteRequest(BaseModel):
    """`POST .../versions/{version}/promote`: where to, and why."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=TEXT)
    ticket: str | None = Field(default=None, min_length=1, max_length=200)


class ApproveRequest(BaseModel):
    """`POST .../versions/{version}/approve`: for which environment, and why (both required)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    environment: str = Field(alias="for", min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=TEXT)
    ticket: str | None = Field(default=None, min_length=1, max_length=200)


def promotion_routes(promotions: Promotions, viewer: Callable, deployer: Callable,
                     versions_change: threading.Lock, responses: dict) -> APIRouter:  # fmt: skip
    """The routes; `versions_change` is held from a promotion's checks to its record (as a deploy's),
    so its version is not deleted in between."""
    router = APIRouter(prefix="/api/v1")
    changing, reading = responses["changing"], responses["reading"]

    @router.get("/environments", dependencies=[Depends(viewer)], responses=reading)
    def environments() -> dict:
        """Every environment: target, upstream, soak, approval policy and rollout defaults."""
        known = promotions.environments
        return {"source": known.source,
                "environments": [e.model_dump(mode="json") for e in known.environments.values()]}  # fmt: skip

    @router.get("/models/{model}/versions/{version}/eligibility", responses=reading)
    def eligibility(model: str, version: int = Path(ge=1, le=LARGEST), to: str = Query(min_length=1),
                    promoter: str | None = None, who: Principal = Depends(viewer)) -> dict:  # fmt: skip
        """Whether the version may be promoted to `to` now (by `promoter`, default the caller), each
        reason it may not, and the evidence it would rest on."""
        check_name(model)
        standing = promotions.standing(model, version, to, promoter or who.subject)
        upstream = standing.upstream
        return {"model": model, "version": version, "environment": to, "allowed": standing.allowed,
                "reasons": list(standing.reasons), "upstream": upstream.id if upstream else None,
                "approvals": [a.model_dump(mode="json") for a in standing.approvals]}  # fmt: skip

    @router.post("/models/{model}/versions/{version}/approve", status_code=201, responses=changing)
    def approve(request: ApproveRequest, model: str, version: int = Path(ge=1, le=LARGEST),
                who: Principal = Depends(deployer)) -> dict:  # fmt: skip
        """Approve the version for an environment (the environment's approver role, bound to the
        upstream success it rests on); audited."""
        check_name(model)
        approval = promotions.approve(
            model, version, request.environment, request.reason, request.ticket, who
        )
        return approval.model_dump(mode="json")

    @router.get("/approvals", dependencies=[Depends(viewer)], responses=reading)
    def approvals(
        model: str | None = None, version: int | None = Query(None, ge=1, le=LARGEST)
    ) -> list[dict]:
        """Approvals, oldest first."""
        return [a.model_dump(mode="json") for a in promotions.store.approvals(model, version)]

    @router.post("/models/{model}/versions/{version}/promote", status_code=201, responses=changing)
    def promote(request: PromoteRequest, model: str, version: int = Path(ge=1, le=LARGEST),
                who: Principal = Depends(deployer)) -> dict:  # fmt: skip
        """Start the environment's rollout of the version, if it is eligible (409 naming every reason
        it is not); the promotion, its evidence and any refusal are audited."""
        check_name(model)
        with versions_change:
            rollout = promotions.promote(model, version, request.to, request.reason, request.ticket, who)
        return rollout.model_dump(mode="json")

    return router
