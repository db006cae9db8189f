"""The metric source interface: a snapshot of the runtime's cumulative counters for one model."""

from typing import Protocol

from controller.analysis.window import Snapshot


class SourceUnavailable(Exception):
    """The source could not be read; the analysis records an Error, never a value."""


class MetricSource(Protocol):
    name: str

    def snapshot(self, model: str) -> Snapshot:
        """Every raynomaly series of `model` at this instant; SourceUnavailable if unreadable."""
