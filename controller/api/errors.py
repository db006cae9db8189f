"""The one table from domain errors to HTTP status codes of the control API."""

from controller.api.deletion import VersionInUse
from controller.environments.promotion import PromotionRefused
from controller.rollouts.create import RolloutRefused
from controller.rollouts.decide import CommandRefused
from controller.sources.spec import SourceUnavailable
from controller.store.spec import StoreError
from controller.targets.spec import TargetError
from models.errors import (
    IntegrityError,
    InvalidInput,
    InvalidSpec,
    KeyringError,
    ModelNotFound,
    StoreWriteFailed,
)
from runtime.conflict import Conflict
from runtime.serving import DeployFailed
from runtime.tokens import Forbidden, Unauthorized

STATUS: dict[type[Exception], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    LookupError: 404,
    ModelNotFound: 404,
    RolloutRefused: 409,
    PromotionRefused: 409,
    CommandRefused: 409,
    VersionInUse: 409,
    StoreError: 409,
    Conflict: 409,
    IntegrityError: 409,
    InvalidInput: 422,
    InvalidSpec: 422,
    ValueError: 422,
    TargetError: 503,
    SourceUnavailable: 503,
    DeployFailed: 503,
    StoreWriteFailed: 503,
    KeyringError: 503,
}


def http_status(error: Exception) -> int:
    """The HTTP status of an error; anything unexpected is a 500."""
    return next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), 500)


def headers_of(status: int) -> dict[str, str]:
    """The headers an error answer with `status` carries: a 401 names the scheme (RFC 6750)."""
    return {"WWW-Authenticate": "Bearer"} if status == 401 else {}
