"""The gateway's own spans, children of the span Serve opens for each replica call: `parse` (the
body read and decoded), `route` (the traffic table's choice), `score` (the chosen version) and
`shadow` (a mirrored copy, after the answer), with the model, version, role, rows and request id.

Only children: a gateway span is made under a sampled span (Serve sampled the request; a shadow
copy's span follows the answer, under the call's span that has ended by then).
Serve opens no span for a request it did not sample, and a span made then would start a trace of its
own, sampled apart from Serve's. So with tracing off, or for a request not sampled, a span costs a
check or two and nothing is made.
"""

import contextlib
import functools
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider, Span, Tracer, TracerProvider

from runtime import request_ids

SCOPE = "raynomaly.gateway"


def tracer() -> Tracer | None:
    """The gateway's tracer from the provider set in this process (Serve sets one when tracing is
    on), or None when none is set."""
    provider = trace.get_tracer_provider()
    return None if isinstance(provider, ProxyTracerProvider) else _tracer_of(provider)


@functools.lru_cache(maxsize=4)
def _tracer_of(provider: TracerProvider) -> Tracer:
    return provider.get_tracer(SCOPE)


@contextlib.contextmanager
def span(name: str, **attributes) -> Iterator[Span | None]:
    """A child of the current span while the block runs, with `attributes` (None values left out)
    and the request's id; None when tracing is off or the current span is not sampled. An
    exception is recorded on it and re-raised."""
    traced = tracer()
    if traced is None or not _sampled(trace.get_current_span()):
        yield None
        return
    facts = request_ids.current()
    if facts is not None:
        attributes["request_id"] = facts.id
    with traced.start_as_current_span(name, attributes=_present(attributes)) as current:
        yield current


def annotate(current: Span | None, **attributes) -> None:
    """Add attributes learnt inside a span's block (nothing when tracing is off)."""
    if current is not None and current.is_recording():
        current.set_attributes(_present(attributes))


def _sampled(current: Span) -> bool:
    context = current.get_span_context()
    return context.is_valid and context.trace_flags.sampled


def _present(attributes: dict) -> dict:
    return {key: value for key, value in attributes.items() if value is not None}
