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
        result = answer(self._client, self.url, "query", {"query": query_for(model)}, "vector")
        snapshot = {}
        for series in result:
            labels = dict(series["metric"])
            key = series_key(labels.pop("__name__"), labels)
            snapshot[key] = snapshot.get(key, 0.0) + float(series["value"][1])
        return snapshot


def answer(client: httpx.Client, url: str, api: str, params: dict, kind: str, purpose: str = "") -> list:
    """The result of one HTTP API call (`api`: query, query_range) of the Prometheus at `url`, whose
    result type must be `kind`; SourceUnavailable saying what failed (the one translation of both)."""
    try:
        response = client.get(f"{url}/api/v1/{api}", params=params)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as e:
        raise SourceUnavailable(f"cannot query Prometheus at {url}{purpose}: {e}") from e
    if body.get("status") != "success" or body.get("data", {}).get("resultType") != kind:
        raise SourceUnavailable(f"Prometheus at {url} answered {body.get('error', body)!r}")
    return body["data"]["result"]
