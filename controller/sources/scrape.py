"""Direct scrape of Ray's metrics export (`http://127.0.0.1:<metrics port>/metrics`): the embedded
default, which needs no Prometheus server."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from controller.analysis.window import FAMILIES, Snapshot, series_key
from controller.sources.spec import SourceUnavailable
from runtime.series import MODEL


class ScrapeSource:
    name = "scrape"

    def __init__(self, url: str, transport: httpx.BaseTransport | None = None):
        self.url = url
        self._client = httpx.Client(timeout=10.0, transport=transport)

    def snapshot(self, model: str) -> Snapshot:
        try:
            response = self._client.get(self.url)
            response.raise_for_status()
        except httpx.HTTPError as e:
            raise SourceUnavailable(f"cannot scrape Ray's metrics at {self.url}: {e}") from e
        snapshot = {}
        try:
            for family in text_string_to_metric_families(response.text):
                for sample in family.samples:
                    if sample.name in FAMILIES and sample.labels.get(MODEL) == model:
                        key = series_key(sample.name, sample.labels)
                        snapshot[key] = snapshot.get(key, 0.0) + sample.value
        except ValueError as e:
            raise SourceUnavailable(
                f"Ray's metrics at {self.url} are not in Prometheus text format: {e}"
            ) from e
        return snapshot
