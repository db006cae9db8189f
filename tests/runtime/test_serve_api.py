"""The Serve REST seam against a double of the dashboard (httpx.MockTransport)."""

import httpx
import pytest

from runtime.serve_api import ServeApi, ServeApiError


def api(handler) -> ServeApi:
    return ServeApi("http://127.0.0.1:8265", "secret", transport=httpx.MockTransport(handler))


def test_apply_puts_the_config_with_the_token():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers["authorization"], request.content))
        return httpx.Response(200)

    api(handler).apply({"applications": []})
    assert seen == [("PUT", "/api/serve/applications/", "Bearer secret", b'{"applications":[]}')]


@pytest.mark.parametrize(
    ("response", "message"),
    [
        pytest.param(httpx.Response(401), "refused the token", id="unauthorized"),
        pytest.param(
            httpx.Response(400, text="bad import_path"),
            "Serve refused the request \\(400\\): bad import_path",
            id="rejected",
        ),
    ],
)
def test_refusals_are_translated(response, message):
    with pytest.raises(ServeApiError, match=message):
        api(lambda request: response).status()


def test_unreachable_dashboard():
    def handler(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ServeApiError, match="cannot reach the Ray dashboard"):
        api(handler).apply({})
