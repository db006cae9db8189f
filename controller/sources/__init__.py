"""Metric sources: where the analysis reads the runtime's counters. One module per backend."""

from controller.sources.prometheus import PrometheusSource
from controller.sources.scrape import ScrapeSource
from controller.sources.spec import MetricSource, SourceUnavailable

SOURCES = {"prometheus": PrometheusSource, "scrape": ScrapeSource}


def source_for(name: str, url: str) -> MetricSource:
    """The source called `name` reading `url`; ValueError listing the valid names."""
    if name not in SOURCES:
        raise ValueError(f"unknown metric source {name!r}; choose one of {', '.join(SOURCES)}")
    return SOURCES[name](url)


__all__ = ["SOURCES", "MetricSource", "SourceUnavailable", "source_for"]
