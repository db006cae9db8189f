"""The gateway's own spans, exported in-process to memory: parse, route, score and shadow with their
attributes, children of the span around the call (Serve's replica span in a replica), and nothing
at all when tracing is off."""

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from runtime import spans
from runtime.codec import Rows
from runtime.traffic import ModelTraffic
from tests.runtime.replica import Replica, served, serving
from tests.runtime.test_inference import ScorerDouble, gateway


@pytest.fixture
def exported(monkeypatch) -> InMemorySpanExporter:
    """Spans of this process, as Serve's provider would have them when tracing is on. OpenTelemetry
    lets a process set its provider once; its own tests reset the global the same way."""
    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    return exporter


def test_off_no_span_is_made_and_scoring_works():
    inference, _ = serving()
    assert spans.tracer() is None
    with spans.span("score", model="fraud") as current:
        assert current is None
    answer = asyncio.run(inference.predict("fraud", Rows.from_features([1.0, 2.0])))
    assert answer.version == 1


def test_route_and_score_are_children_of_the_calls_span(exported):
    inference, _ = serving()

    async def call():
        with trace.get_tracer("ray.serve").start_as_current_span("replica_handle_request") as parent:
            await inference.predict("fraud", Rows.from_features([1.0, 2.0]))
        return parent

    parent = asyncio.run(call()).get_span_context()
    found = {s.name: s for s in exported.get_finished_spans()}
    assert set(found) == {"route", "score", "replica_handle_request"}
    for name in ("route", "score"):
        assert found[name].parent.span_id == parent.span_id
        assert found[name].context.trace_id == parent.trace_id
    assert dict(found["route"].attributes) == {"model": "fraud", "rows": 1, "version": 1, "role": "stable"}
    assert dict(found["score"].attributes) == {"model": "fraud", "version": 1, "role": "stable", "rows": 1}


def as_a_replica(app):
    """`app` under a span for each request, as Serve's replica opens one for a sampled request."""

    async def traced(scope, receive, send):
        with trace.get_tracer("ray.serve").start_as_current_span("replica_handle_request"):
            await app(scope, receive, send)

    return traced


def test_an_http_request_has_parse_route_and_score_spans_naming_its_id(exported):
    with served(Replica(serving()[0])) as app:
        client = TestClient(as_a_replica(app))
        answer = client.post(
            "/api/v1/predict/batch",
            json={"model": "fraud", "instances": [[1, 2]] * 3},
            headers={"x-request-id": "r-9"},
        )
    assert answer.status_code == 200
    finished = exported.get_finished_spans()
    assert {s.instrumentation_scope.name for s in finished} == {spans.SCOPE, "ray.serve"}  # none of FastAPI's
    found = {s.name: s for s in finished if s.instrumentation_scope.name == spans.SCOPE}
    assert set(found) == {"parse", "route", "score"}
    assert {s.attributes["request_id"] for s in found.values()} == {"r-9"}
    assert found["parse"].attributes["rows"] == 3 and found["parse"].attributes["model"] == "fraud"
    [replica] = [s for s in finished if s.name == "replica_handle_request"]
    assert {s.context.trace_id for s in found.values()} == {replica.context.trace_id}


def test_no_span_without_a_recording_parent(exported):
    """A request Serve did not sample has no span around it: the gateway starts no trace of its own."""
    inference, _ = serving()

    async def call(parent):
        if parent is None:
            return await inference.predict("fraud", Rows.from_features([1.0, 2.0]))
        with trace.use_span(parent):
            return await inference.predict("fraud", Rows.from_features([1.0, 2.0]))

    asyncio.run(call(None))
    asyncio.run(call(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)))
    assert exported.get_finished_spans() == ()


async def under_a_span(call):
    with trace.get_tracer("ray.serve").start_as_current_span("replica_handle_request"):
        return await call


def test_a_refused_route_is_recorded_as_an_error_on_its_span(exported):
    inference, _ = serving()
    with pytest.raises(Exception, match="not served"):
        asyncio.run(under_a_span(inference.predict("nope", Rows.from_features([1.0, 2.0]))))
    [route, _] = exported.get_finished_spans()
    assert route.name == "route" and not route.status.is_ok
    assert route.events[0].name == "exception"


def test_a_shadow_copy_has_its_own_span_after_the_answer(exported):
    inference, _, _ = gateway(
        {1: ScorerDouble(1), 2: ScorerDouble(2)}, ModelTraffic(weights={1: 100}, shadows={2: 100.0})
    )

    async def call():
        await under_a_span(inference.predict("fraud", Rows.from_features([1.0, 2.0])))
        await asyncio.gather(*inference._background)

    asyncio.run(call())
    found = {s.name: s for s in exported.get_finished_spans()}
    assert found["shadow"].attributes["version"] == 2 and found["shadow"].attributes["role"] == "shadow"
    assert found["score"].attributes["version"] == 1
    assert found["shadow"].start_time >= found["score"].end_time
