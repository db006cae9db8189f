"""The one table from serving errors to HTTP and gRPC status codes: a client's mistake is a 4xx."""

import grpc
import pytest

from models.errors import InvalidInput
from runtime.errors import BadRequest, NotReady, Overloaded, TooLarge, UnknownModel, grpc_code, http_status

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        pytest.param(BadRequest("3 features, expected 2"), 400, Code.INVALID_ARGUMENT, id="bad-request"),
        pytest.param(InvalidInput("non-finite"), 400, Code.INVALID_ARGUMENT, id="model-layer-input"),
        pytest.param(UnknownModel("churn"), 404, Code.NOT_FOUND, id="unknown-model"),
        pytest.param(TooLarge("rows"), 413, Code.RESOURCE_EXHAUSTED, id="too-large"),
        pytest.param(NotReady("loading"), 503, Code.UNAVAILABLE, id="not-ready"),
        pytest.param(Overloaded("queue full"), 503, Code.RESOURCE_EXHAUSTED, id="overloaded"),
        pytest.param(RuntimeError("bug"), 500, Code.INTERNAL, id="unexpected-is-a-server-error"),
    ],
)
def test_http_status_and_grpc_code(error, status, code):
    assert (http_status(error), grpc_code(error)) == (status, code)
