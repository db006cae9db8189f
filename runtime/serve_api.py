"""The one seam to a Ray cluster's Serve REST API (`PUT/GET /api/serve/applications/`).

Declarative: a PUT replaces the whole config, and applications missing from it are deleted.
Authenticated with the cluster's token; HTTP failures become `ServeApiError` here, once.
"""

import httpx

APPLICATIONS = "/api/serve/applications/"


class ServeApiError(Exception):
    """The Serve REST API refused or could not be reached; the message says which and why."""


class ServeApi:
    """Client of one cluster's dashboard."""

    def __init__(self, base_url: str, token: str | None, transport: httpx.BaseTransport | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=base_url, headers=headers, timeout=60.0, transport=transport)

    def _call(self, method: str, path: str = APPLICATIONS, **kwargs) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise ServeApiError(f"cannot reach the Ray dashboard at {self._client.base_url}: {e}") from e
        if response.status_code == 401:
            raise ServeApiError("the Ray dashboard refused the token (401); is this raynomaly's cluster?")
        if response.status_code >= 400:
            raise ServeApiError(
                f"Serve refused the request ({response.status_code}): {response.text[-2000:]}"
            )
        return response

    def apply(self, config: dict) -> None:
        """Apply a whole Serve config (in-place where only `user_config` changed)."""
        self._call("PUT", json=config)

    def status(self) -> dict:
        """Applications and their statuses, as Serve reports them."""
        return self._call("GET").json()

    def gpus(self) -> float:
        """Total GPUs in the cluster, as its autoscaler reports them."""
        status = self._call("GET", "/api/cluster_status").json()
        try:
            usage = status["data"]["clusterStatus"]["loadMetricsReport"]["usage"]
        except (KeyError, TypeError) as e:
            raise ServeApiError(f"the cluster status has an unexpected shape ({e}); cannot count GPUs") from e
        return float(usage.get("GPU", [0.0, 0.0])[1])
