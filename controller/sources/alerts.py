"""Alerts about a model version, as the promotion's soak reads them: Prometheus's `ALERTS` series
(every alert rule's firing state, labelled with the rule's `model` and `version` where it has them),
or none where the controller reads no Prometheus (said in the promotion's evidence)."""

import math
from typing import Protocol

import httpx

from controller.environments.eligibility import Alert
from controller.sources.prometheus import answer
from runtime.series import MODEL, VERSION

MAX_POINTS = 1000
"""Points asked of Prometheus per range query: the step grows with the soak, never the answer."""


class AlertSource(Protocol):
    checked: bool
    """Whether alerts are read at all (false: the soak rests on the rollout records only)."""

    def fired(self, model: str, version: int, since: float, now: float) -> list[Alert]:
        """Every alert that fired about the version between `since` and `now`; SourceUnavailable."""


class NoAlerts:
    checked = False

    def fired(self, model: str, version: int, since: float, now: float) -> list[Alert]:
        return []


class PrometheusAlerts:
    """`ALERTS{alertstate="firing", model=..., version=...}` over the soak, through the HTTP API."""

    checked = True

    def __init__(self, url: str, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=10.0, transport=transport)

    def fired(self, model: str, version: int, since: float, now: float) -> list[Alert]:
        start = min(since, now)
        step = max(1, math.ceil((now - start) / MAX_POINTS))
        query = f'ALERTS{{alertstate="firing",{MODEL}="{model}",{VERSION}="{version}"}}'
        params = {"query": query, "start": f"{start:.3f}", "end": f"{now:.3f}", "step": f"{step}s"}
        result = answer(self._client, self.url, "query_range", params, "matrix", " for alerts")
        return [
            Alert(
                series["metric"].get("alertname", "an alert"), model, version, float(series["values"][0][0])
            )
            for series in result
            if series.get("values")
        ]


def alerts_for(prometheus_url: str | None) -> AlertSource:
    """Prometheus's alerts where the controller reads Prometheus, else none."""
    return PrometheusAlerts(prometheus_url) if prometheus_url else NoAlerts()
