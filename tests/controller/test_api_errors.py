"""The control API's one table from domain errors to HTTP statuses (and the headers they carry)."""

import pytest

from controller.api.errors import headers_of, http_status
from controller.store.spec import StoreError
from controller.targets.spec import TargetError, Waiting
from models.errors import ModelNotFound
from runtime.conflict import Conflict
from runtime.serving import DeployFailed
from runtime.tokens import Forbidden, Unauthorized


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(Unauthorized("no token"), 401, id="unauthorized"),
        pytest.param(Forbidden("viewer"), 403, id="forbidden"),
        pytest.param(KeyError("rollout"), 404, id="lookup"),
        pytest.param(ModelNotFound("fraud:9"), 404, id="model-not-found"),
        pytest.param(StoreError("already active"), 409, id="store-refused"),
        pytest.param(Conflict("changed since revision 3"), 409, id="conflict"),
        pytest.param(ValueError("weights"), 422, id="invalid"),
        pytest.param(TargetError("unreachable"), 503, id="target-error"),
        pytest.param(Waiting("upgrading"), 503, id="target-waiting"),
        pytest.param(DeployFailed("no GPU"), 503, id="deploy-failed"),
        pytest.param(RuntimeError("bug"), 500, id="unexpected"),
    ],
)
def test_http_status(error, status):
    assert http_status(error) == status


def test_only_a_401_names_the_authentication_scheme():
    assert headers_of(401) == {"WWW-Authenticate": "Bearer"} and headers_of(403) == {} == headers_of(500)
