"""The one seam from the CLI to the control API: httpx with the bearer token; failures become
`ControlApiError` here, once."""

import httpx


class ControlApiError(Exception):
    """The control API refused or could not be reached; `status` is its HTTP status (0 if none)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class ControllerError(Exception):
    """The controller could not be started or stopped; the message says why."""


class ControlClient:
    def __init__(self, url: str, token: str | None, transport: httpx.BaseTransport | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=url, headers=headers, timeout=30.0, transport=transport)

    def call(self, method: str, path: str, **kwargs):
        """The JSON answer, or ControlApiError with the API's own message."""
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise ControlApiError(
                f"cannot reach the controller at {self._client.base_url} ({e}); is 'raynomaly up' running?"
            ) from e
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ControlApiError(f"{detail} ({response.status_code})", response.status_code)
        return response.json()

    def get(self, path: str, **params):
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict | None = None):
        return self.call("POST", path, json=body)

    def delete(self, path: str, **params):
        return self.call("DELETE", path, params={k: v for k, v in params.items() if v is not None})
