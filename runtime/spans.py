"""The gateway's own spans, children of the span Serve opens for each replica call: `parse` (the
body read and decoded), `route` (the traffic table's choice), `score` (the chosen version) and
`shadow` (a mirrored copy, after the answer), with the model, version, role, rows and request id.

With tracing off (no tracer provider set in the process, as Serve leaves it) a span is a no-op
that costs one check.
"""

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider, Span

from runtime import request_ids

TRACER = trace.get_tracer("raynomaly.gateway")
"""Resolves to the provider Serve sets in the process when tracing is on."""


def tracing_on() -> bool:
    """Whether a tracer provider is set in this process (Serve sets one when tracing is on)."""
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)


@contextlib.contextmanager
def span(name: str, **attributes) -> Iterator[Span | None]:
    """A child of the current span while the block runs, with `attributes` (None values left out)
    and the request's id; None when tracing is off. An exception is recorded on it and re-raised."""
    if not tracing_on():
        yield None
        return
    facts = request_ids.current()
    if facts is not None:
        attributes["request_id"] = facts.id
    with TRACER.start_as_current_span(name, attributes=_present(attributes)) as current:
        yield current


def annotate(current: Span | None, **attributes) -> None:
    """Add attributes learnt inside a span's block (nothing when tracing is off)."""
    if current is not None and current.is_recording():
        current.set_attributes(_present(attributes))


def _present(attributes: dict) -> dict:
    return {key: value for key, value in attributes.items() if value is not None}
