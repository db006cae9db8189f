"""The one table from domain errors to HTTP status codes of the control API."""

from controller.api.auth import Forbidden, Unauthorized
from controller.rollouts.create import RolloutRefused
from controller.rollouts.decide import CommandRefused
from controller.store.spec import StoreError
from controller.targets.spec import TargetError
from models.errors import IntegrityError, InvalidInput, InvalidSpec, ModelNotFound

STATUS: dict[type[Exception], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    LookupError: 404,
    ModelNotFound: 404,
    RolloutRefused: 409,
    CommandRefused: 409,
    StoreError: 409,
    IntegrityError: 409,
    InvalidInput: 422,
    InvalidSpec: 422,
    ValueError: 422,
    TargetError: 503,
}


def status_of(error: Exception) -> tuple[int, dict[str, str]]:
    """(HTTP status, headers) of an error; anything unexpected is a 500."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            status = STATUS[kind]
            return status, {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return 500, {}
