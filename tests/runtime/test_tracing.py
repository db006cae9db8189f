"""Serve's tracing for a local runtime: the flags parsed at the edge, the environment of the Ray
processes, what a second `up` keeps, and the exporter Serve loads by import path."""

import importlib
import inspect
import sys

import pytest

from runtime import cluster, tracing
from runtime.record import RuntimeRecord, tracing_for_up
from runtime.settings import DEFAULT_TRACING_SAMPLE, RuntimeSettings, TracingSettings


@pytest.mark.parametrize(
    ("sample", "endpoint", "expected"),
    [
        pytest.param(None, None, TracingSettings(0.0, None), id="no-flags-off"),
        pytest.param(0.25, None, TracingSettings(0.25, None), id="share-to-span-files"),
        pytest.param(0.0, None, TracingSettings(0.0, None), id="zero-is-off"),
        pytest.param(
            None,
            "http://c:4318",
            TracingSettings(DEFAULT_TRACING_SAMPLE, "http://c:4318/v1/traces"),
            id="endpoint-alone-at-serves-default",
        ),  # fmt: skip
        pytest.param(
            1.0, "https://c:4318/", TracingSettings(1.0, "https://c:4318/v1/traces"), id="root-path"
        ),
        pytest.param(
            0.5, "http://c/otlp/traces", TracingSettings(0.5, "http://c/otlp/traces"), id="own-path-kept"
        ),
    ],
)
def test_tracing_flags_parse(sample, endpoint, expected):
    assert TracingSettings.parse(sample, endpoint) == expected


@pytest.mark.parametrize(
    ("sample", "endpoint", "message"),
    [
        pytest.param(1.5, None, "--tracing-sample 1.5: give a share between 0", id="over-one"),
        pytest.param(-0.1, None, "--tracing-sample -0.1", id="negative"),
        pytest.param(None, "collector:4318", "--otlp-endpoint 'collector:4318'", id="no-scheme"),
        pytest.param(None, "grpc://c:4317", "OTLP/HTTP address", id="not-http"),
        pytest.param(0.0, "http://c:4318", "tracing is off; drop one", id="endpoint-with-zero"),
    ],
)
def test_bad_tracing_flags_are_refused_by_name(sample, endpoint, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        TracingSettings.parse(sample, endpoint)


def test_off_is_written_out_so_an_inherited_variable_cannot_turn_it_on(monkeypatch, tmp_path):
    monkeypatch.setenv("RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH", "somewhere:else")
    environ = cluster.environment(RuntimeSettings(state_dir=tmp_path))
    assert environ["RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH"] == ""
    assert environ[tracing.ENDPOINT_VARIABLE] == ""


@pytest.mark.parametrize(
    ("settings", "ratio", "endpoint"),
    [
        pytest.param(TracingSettings(0.01), "0.01", "", id="span-files"),
        pytest.param(
            TracingSettings(1.0, "http://c:4318/v1/traces"), "1.0", "http://c:4318/v1/traces", id="otlp"
        ),
    ],
)
def test_on_every_ray_process_loads_the_exporter_at_the_share(tmp_path, settings, ratio, endpoint):
    environ = cluster.environment(RuntimeSettings(state_dir=tmp_path, tracing=settings))
    assert environ["RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH"] == "runtime.tracing:span_processors"
    assert environ["RAY_SERVE_TRACING_SAMPLING_RATIO"] == ratio
    assert float(environ["RAY_SERVE_TRACING_SAMPLING_RATIO"]) == settings.sample
    assert environ[tracing.ENDPOINT_VARIABLE] == endpoint


RECORD = dict(dashboard_url="http://127.0.0.1:1", http_url="http://127.0.0.1:2", grpc_port=3, metrics_port=4,
              ingress="haproxy")  # fmt: skip


@pytest.mark.parametrize(
    ("asked", "recorded", "expected"),
    [
        pytest.param(None, None, TracingSettings(), id="first-up-off"),
        pytest.param(
            None,
            RuntimeRecord(**RECORD, tracing_sample=0.2, otlp_endpoint="http://c/v1/traces"),
            TracingSettings(0.2, "http://c/v1/traces"),
            id="up-again-keeps-recorded",
        ),  # fmt: skip
        pytest.param(
            TracingSettings(0.0),
            RuntimeRecord(**RECORD, tracing_sample=0.2),
            TracingSettings(0.0),
            id="flags-win-even-off",
        ),  # fmt: skip
        pytest.param(None, RuntimeRecord(**RECORD), TracingSettings(), id="record-before-tracing-off"),
    ],
)
def test_up_traces_as_asked_else_as_recorded(asked, recorded, expected):
    assert tracing_for_up(asked, recorded) == expected


def test_the_runtime_record_keeps_the_tracing():
    record = RuntimeRecord(**RECORD, tracing_sample=0.05, otlp_endpoint=None)
    again = RuntimeRecord.model_validate_json(record.model_dump_json())
    assert again.tracing == TracingSettings(0.05, None) and again.tracing.enabled


def test_serve_can_load_the_exporter_by_its_import_path():
    module, name = tracing.EXPORTER.split(":")
    exporter = getattr(importlib.import_module(module), name)
    # Serve refuses anything but a plain function without parameters
    assert inspect.isfunction(exporter) and not inspect.signature(exporter).parameters


@pytest.mark.parametrize(
    ("actor", "pid", "expected"),
    [
        pytest.param(
            "SERVE_REPLICA::gateway#Gateway#ab12",
            7,
            "SERVE_REPLICA_gateway_Gateway_ab12_7_tracing.json",
            id="replica",
        ),  # fmt: skip
        pytest.param(None, 9, "process_9_tracing.json", id="not-an-actor"),
    ],
)
def test_span_files_name_their_process(actor, pid, expected):
    assert tracing.span_file_name(actor, pid) == expected


def test_an_endpoint_without_the_otlp_exporter_is_refused_before_ray_starts(monkeypatch):
    monkeypatch.setitem(sys.modules, tracing.OTLP_MODULE, None)  # as if it were not installed
    with pytest.raises(
        tracing.TracingUnavailable, match="pip install opentelemetry-exporter-otlp-proto-http"
    ):
        tracing.check_exporter(TracingSettings(0.01, "http://c:4318/v1/traces"))
    with pytest.raises(
        tracing.TracingUnavailable, match="pip install opentelemetry-exporter-otlp-proto-http"
    ):
        tracing.processors_for({tracing.ENDPOINT_VARIABLE: "http://c:4318/v1/traces"})
    tracing.check_exporter(TracingSettings(0.01))  # span files need no exporter package


def test_an_endpoint_gets_a_batching_otlp_processor(monkeypatch):
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Exporter(SpanExporter):
        def __init__(self, endpoint):
            self.endpoint = endpoint

        def export(self, spans):
            return SpanExportResult.SUCCESS

    module = type(sys)("otlp_double")
    module.OTLPSpanExporter = Exporter
    monkeypatch.setitem(sys.modules, tracing.OTLP_MODULE, module)
    [processor] = tracing.processors_for({tracing.ENDPOINT_VARIABLE: "http://c:4318/v1/traces"})
    try:
        assert isinstance(processor, BatchSpanProcessor)
        assert processor.span_exporter.endpoint == "http://c:4318/v1/traces"
    finally:
        processor.shutdown()
