"""Serve's built-in tracing, configured for a local runtime: the `RAY_SERVE_TRACING_*` environment
of the Ray processes, and the exporter those processes load by import path.

Serve traces the proxy, the router, each replica call and batching; it reads a W3C `traceparent`
from HTTP headers and gRPC metadata, and samples the rest at the configured share (parent-based).
The gateway's own spans (`runtime.spans`) are children of Serve's.
"""

import importlib.util
import os
import re
from collections.abc import Mapping

from runtime.settings import TracingSettings

EXPORTER = "runtime.tracing:span_processors"
"""What Serve imports in every Ray process to get its span processors (a zero-argument function)."""
ENDPOINT_VARIABLE = "RAYNOMALY_OTLP_ENDPOINT"
"""Carries `--otlp-endpoint` to the exporter in the Ray processes (empty: Serve's span files)."""
OTLP_PACKAGE = "opentelemetry-exporter-otlp-proto-http"
OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


class TracingUnavailable(Exception):
    """Tracing as asked cannot run here; the message says what to install or change."""


def environment(tracing: TracingSettings) -> dict[str, str]:
    """The `RAY_SERVE_TRACING_*` environment of every Ray process for `tracing` (pure). Off is
    written out too, so that a variable inherited from the shell cannot turn tracing on."""
    if not tracing.enabled:
        return {"RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH": "", ENDPOINT_VARIABLE: ""}
    return {
        "RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH": EXPORTER,
        "RAY_SERVE_TRACING_SAMPLING_RATIO": repr(tracing.sample),
        ENDPOINT_VARIABLE: tracing.otlp_endpoint or "",
    }


def check_exporter(tracing: TracingSettings) -> None:
    """TracingUnavailable if `tracing` sends to a collector and the OTLP/HTTP exporter is not
    installed (checked before Ray starts: every Ray process would fail to load it)."""
    if tracing.otlp_endpoint is None:
        return
    try:
        found = importlib.util.find_spec(OTLP_MODULE) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise TracingUnavailable(
            f"--otlp-endpoint needs the OTLP/HTTP span exporter: pip install {OTLP_PACKAGE} "
            "(or leave --otlp-endpoint out to write Serve's span files)"
        )


def span_file_name(component: str | None, pid: int) -> str:
    """The span file of one Ray process in Serve's `spans/` folder (pure): its actor's name made
    safe for a file name, and its process id."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", component or "process").strip("_")
    return f"{safe}_{pid}_tracing.json"


def span_processors() -> list:
    """Where this Ray process sends its spans (Serve calls it with no arguments, and refuses a
    function that takes any): see `processors_for`."""
    return processors_for(os.environ)


def processors_for(environ: Mapping[str, str]) -> list:
    """The span processors for a process's environment: to the OTLP/HTTP collector of
    `RAYNOMALY_OTLP_ENDPOINT` (batched, exported off the request path), else Serve's own span file
    exporter, one file per process."""
    endpoint = environ.get(ENDPOINT_VARIABLE, "")
    if endpoint:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        try:
            exporter = importlib.import_module(OTLP_MODULE)
        except ImportError as e:
            raise TracingUnavailable(f"RAYNOMALY_OTLP_ENDPOINT is set: pip install {OTLP_PACKAGE}") from e
        return [BatchSpanProcessor(exporter.OTLPSpanExporter(endpoint=endpoint))]
    from ray.serve._private.tracing_utils import default_tracing_exporter

    return default_tracing_exporter(span_file_name(_actor_name(), os.getpid()))


def _actor_name() -> str | None:
    """The Ray actor this process runs (Serve's proxy, controller or a replica), if any."""
    import ray

    return ray.get_runtime_context().get_actor_name() if ray.is_initialized() else None
