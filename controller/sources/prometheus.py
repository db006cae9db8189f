"""Prometheus HTTP API: one instant query (PromQL) for the model's raynomaly series."""

import httpx

from controller.analysis.window import FAMILIES, Snapshot, series_key
from controller.sources.spec import SourceUnavailable
from runtime.series import MODEL


def query_for(model: str) -> str:
    """The PromQL selector of every raynomaly family the analysis reads, for one model (pure)."""
    names = "|".join(FAMILIES)
    return f'{{__name__=~"{names}",{MODEL}="{model}"}}'


class PrometheusSource:
    name = "prometheus"

    def __init__(self, url: str, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=10.0, transport=transport)

    def snapshot(self, model: str) -> Snapshot:
        try:
            response = self._client.get(f"{self.url}/api/v1/query", params={"query": query_for(model)})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise SourceUnavailable(f"cannot query Prometheus at {self.url}: {e}") from e
        if body.get("status") != "success" or body.get("data", {}).get("resultType") != "vector":
            raise SourceUnavailable(f"Prometheus at {self.url} answered {body.get('error', body)!r}")
        snapshot = {}
        for series in body["data"]["result"]:
            labels = dict(series["metric"])
            key = series_key(labels.pop("__name__"), labels)
            snapshot[key] = snapshot.get(key, 0.0) + float(series["value"][1])
        return snapshot
