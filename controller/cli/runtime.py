"""`raynomaly up | down | status | traffic set`: the local serving runtime.

`up` starts a local Ray head with Serve, restores the served state recorded before the runtime
last stopped (the first time: the newest version of every model at 100%), prints the endpoints
and returns once /ready answers (or stays attached with --foreground).
"""

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from controller.cli import companion
from controller.cli.errors import reports_errors
from controller.cli.options import err, out
from controller.settings import ControllerSettings
from models.store import ModelStore, check_name
from runtime.cluster import ClusterError
from runtime.desired import DesiredState
from runtime.record import RuntimeRecord, read_running, served_revision, write_runtime
from runtime.settings import RuntimeSettings

READY_TIMEOUT_S = 300.0


def _settings(store: str | None = None, **flags) -> RuntimeSettings:
    names = ("gcs", "dashboard", "http", "grpc", "metrics", "haproxy_metrics", "haproxy_stats",
             "fallback_http", "fallback_grpc", "direct_http", "direct_grpc")  # fmt: skip
    ports = {k: flags.pop(k) for k in names if k in flags}
    return RuntimeSettings.resolve(store=store, ports=ports, **flags)


def _api(settings: RuntimeSettings, record: RuntimeRecord):
    from runtime.cluster import ensure_token
    from runtime.serve_api import ServeApi

    return ServeApi(record.dashboard_url, ensure_token(settings.token_path))


def _running(settings: RuntimeSettings) -> tuple[RuntimeRecord, DesiredState]:
    """The running runtime and the served state, or ClusterError saying how to start it."""
    running = read_running(settings)
    if running is None:
        raise ClusterError("raynomaly is not running here; start it with 'raynomaly up'")
    return running


def up(
    store: Annotated[str | None, typer.Option(help="Model store [env RAYNOMALY_STORE].")] = None,
    http_port: Annotated[int | None, typer.Option(help="Serve HTTP port (default 8000).")] = None,
    grpc_port: Annotated[int | None, typer.Option(help="Serve gRPC port (default 9000).")] = None,
    dashboard_port: Annotated[
        int | None, typer.Option(help="Ray dashboard / Serve REST port (default 8265).")
    ] = None,
    ray_port: Annotated[int | None, typer.Option(help="Ray GCS port (default 6379).")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Ray metrics export port (default 8080).")] = None,
    ingress: Annotated[
        str | None, typer.Option(help="haproxy (fastest, default) or proxy (Serve's).")
    ] = None,
    haproxy_metrics_port: Annotated[
        int | None, typer.Option(help="HAProxy's metrics port (default 9101).")
    ] = None,
    haproxy_stats_port: Annotated[
        int | None, typer.Option(help="HAProxy's stats port (default 8404).")
    ] = None,
    fallback_http_port: Annotated[
        int | None, typer.Option(help="Serve's own HTTP proxy behind HAProxy (default 8500).")
    ] = None,
    fallback_grpc_port: Annotated[
        int | None, typer.Option(help="Serve's own gRPC proxy behind HAProxy (default 9500).")
    ] = None,
    direct_http_ports: Annotated[
        str | None,
        typer.Option(
            help="Ports the gateway replicas' own HTTP listeners take, LOW..HIGH (default 30000..31000)."
        ),
    ] = None,
    direct_grpc_ports: Annotated[
        str | None,
        typer.Option(
            help="Ports the gateway replicas' own gRPC listeners take, LOW..HIGH (default 40000..41000)."
        ),
    ] = None,
    num_cpus: Annotated[
        int | None, typer.Option(help="Logical CPUs Ray schedules replicas and jobs on (default 4).")
    ] = None,
    replicas: Annotated[
        str | None,
        typer.Option(help="Gateway replicas: N, or MIN..MAX to autoscale (default: as recorded, else 2)."),
    ] = None,
    reset: Annotated[
        bool, typer.Option(help="Forget the recorded served state: serve the newest version of every model.")
    ] = False,
    foreground: Annotated[bool, typer.Option(help="Stay attached; Ctrl-C stops everything.")] = False,
    tls: Annotated[
        str | None,
        typer.Option(
            help="TLS 1.3 in front of HTTP and gRPC: self-signed (a local CA) or files; default off."
        ),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="Certificate (PEM) for --tls files.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Its private key (PEM) for --tls files.")] = None,
    https_port: Annotated[int | None, typer.Option(help="HTTPS port with --tls (default 8443).")] = None,
    grpcs_port: Annotated[
        int | None, typer.Option(help="gRPC over TLS port with --tls (default 9443).")
    ] = None,
    tracing_sample: Annotated[
        float | None,
        typer.Option(
            help="Share of requests Serve traces, 0 to 1 (0.01 is Serve's default); default off, or "
            "as the runtime recorded here was started."
        ),
    ] = None,
    otlp_endpoint: Annotated[
        str | None,
        typer.Option(
            help="OTLP/HTTP collector for the spans, e.g. http://127.0.0.1:4318 (default: Serve's span "
            "files under the Ray session's logs/serve/spans/); alone, traces 0.01 of requests."
        ),
    ] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="Let anyone who reaches the gateway score, without a key or quota (local experiments).",
        ),
    ] = False,
):
    """Start Ray and Serve locally and serve the recorded state (the first time: every model's newest)."""
    from controller import service
    from runtime import certs, cluster, terminator, tracing
    from runtime.record import read_runtime, tracing_for_up
    from runtime.restore import restored
    from runtime.serving import put, wait_ready
    from runtime.settings import Ports, TlsSettings, TracingSettings

    bounds = RuntimeSettings.parse_replicas(replicas) if replicas is not None else None
    secure = TlsSettings.parse(tls, tls_cert, tls_key, https_port=https_port, grpcs_port=grpcs_port)
    asked = None
    if tracing_sample is not None or otlp_endpoint is not None:
        asked = TracingSettings.parse(tracing_sample, otlp_endpoint)
    ranges = {"direct_http": direct_http_ports, "direct_grpc": direct_grpc_ports}
    ranges = {k: Ports.parse_range(v, f"--{k.replace('_', '-')}-ports") for k, v in ranges.items() if v}
    settings = _settings(store, http=http_port, grpc=grpc_port, dashboard=dashboard_port, gcs=ray_port,
                         metrics=metrics_port, haproxy_metrics=haproxy_metrics_port,
                         haproxy_stats=haproxy_stats_port, fallback_http=fallback_http_port,
                         fallback_grpc=fallback_grpc_port, **ranges, ingress=ingress, num_cpus=num_cpus,
                         replicas=bounds, tls=secure)  # fmt: skip
    settings = replace(settings, tracing=tracing_for_up(asked, read_runtime(settings)))
    tracing.check_exporter(settings.tracing)  # a missing exporter: refused before Ray starts
    files = certs.prepare(settings.tls, settings.tls_dir)  # bad certificate files: refused before Ray starts
    model_store = ModelStore(settings.store)
    desired, notes, based_on = restored(settings, model_store, reset)  # refused before Ray starts
    with err.status("starting Ray") as status:
        cluster.start(settings)
        record = RuntimeRecord(dashboard_url=settings.dashboard_url, http_url=settings.http_url,
                               grpc_port=settings.ports.grpc, metrics_port=settings.ports.metrics,
                               ingress=settings.ingress, gcs_port=settings.ports.gcs,
                               tracing_sample=settings.tracing.sample,
                               otlp_endpoint=settings.tracing.otlp_endpoint)  # fmt: skip
        write_runtime(settings, record)
        status.update("deploying")
        if served_revision(settings) != based_on:  # recorded while Ray started (a controller outlived it)
            desired, notes, based_on = restored(settings, model_store, reset)
        control = ControllerSettings(runtime=settings)
        desired = desired.with_access(None if insecure_no_auth else service.inference_access(control))
        desired = put(_api(settings, record), settings, desired, based_on=based_on)
        wait_ready(
            _api(settings, record), settings.http_url, desired, READY_TIMEOUT_S, progress=status.update
        )
        endpoints = {}
        if files is not None:
            status.update("starting TLS")
            routes = terminator.routes_for(settings.tls, settings.ports)
            terminator.start(settings.tls_dir, files, routes, settings.tls.host)
            endpoints |= terminator.endpoints(routes, settings.tls.host)
        status.update("starting the controller")
        endpoints |= companion.start(settings, files)
    _print_endpoints(record, desired, endpoints, control.client_key_path)
    for note in notes:
        err.print(note, highlight=False)
    if foreground:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            down(store=store, ray_port=ray_port)


def _print_endpoints(record: RuntimeRecord, desired: DesiredState, extra: dict[str, str], key: Path) -> None:
    table = Table("endpoint", "address", title="raynomaly is serving")
    table.add_row(
        "HTTP", f"{record.http_url}/api/v1/predict  (batch: /predict/batch, ws: /predict/streaming)"
    )
    table.add_row("Open Inference", f"{record.http_url}/v2  (KServe v2, Triton clients; gRPC: below)")
    table.add_row(
        "gRPC",
        f"127.0.0.1:{record.grpc_port}  (raynomaly.v1.Inference, inference.GRPCInferenceService, "
        "grpc.health.v1, reflection)",
    )
    table.add_row("metrics", f"http://127.0.0.1:{record.metrics_port}/metrics")
    if record.tracing.enabled:
        spans = record.otlp_endpoint or "Serve's span files (Ray session logs/serve/spans/)"
        table.add_row("tracing", f"{record.tracing_sample:g} of requests -> {spans}; x-request-id on answers")
    table.add_row("Serve REST", f"{record.dashboard_url}/api/serve/applications/ (token in .raynomaly/ray)")
    for name, address in extra.items():
        table.add_row(name, address)
    if desired.gateway.access is None:
        table.add_row(
            "inference key",
            "[bold red]none: anyone who reaches these ports may score[/] (--insecure-no-auth)",
        )
    else:
        table.add_row(
            "inference key", f'-H "Authorization: Bearer $(cat {key})"  (gRPC: metadata authorization)'
        )
        table.add_row(
            "more keys", "raynomaly controller token --role client --subject NAME [--models M] [--rate R]"
        )
    for model, traffic in desired.traffic.models.items():
        table.add_row(f"model {model}", ", ".join(f"v{v}={w}%" for v, w in sorted(traffic.weights.items())))
    out.print(table)


def down(
    store: Annotated[str | None, typer.Option(hidden=True)] = None,
    ray_port: Annotated[int | None, typer.Option(help="Ray GCS port of the runtime to stop.")] = None,
):
    """Stop the local runtime (Ray, Serve, HAProxy); the served state stays recorded for `up`.
    Only its own Ray is stopped: the one on --ray-port, else the one `up` recorded, else 6379."""
    from runtime import cluster, terminator
    from runtime.record import read_runtime

    settings = _settings(store, gcs=ray_port)
    recorded = read_runtime(settings) if ray_port is None else None
    if recorded is not None and recorded.gcs_port is not None:
        settings = _settings(store, gcs=recorded.gcs_port)
    with err.status("stopping Ray"):
        companion.stop(settings)
        terminator.stop(settings.tls_dir)
        cluster.stop(settings)
    settings.state_path.unlink(missing_ok=True)
    out.print("stopped")


def status(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False):
    """The recorded served state next to what serves live, and any difference."""
    settings = _settings()
    record, desired = _running(settings)
    applications = _api(settings, record).status().get("applications", {})
    live = _live_table(record)
    versions = [
        {"model": v.model, "version": v.version, "placement": v.options.effective_placement,
         "weight": desired.traffic.models[v.model].weights.get(v.version, 0)
         if v.model in desired.traffic.models else 0}
        for v in desired.versions
    ]  # fmt: skip
    document = {
        "http": record.http_url, "grpc_port": record.grpc_port, "ingress": record.ingress,
        "applications": {name: app.get("status") for name, app in applications.items()},
        "revision": desired.revision, "versions": versions,
        "traffic": desired.traffic.model_dump(mode="json"), "live": live,
        "differences": differences(desired, live, applications),
    }  # fmt: skip
    if as_json:
        print(json.dumps(document, indent=2))
        return
    table = Table("application", "status", title=f"raynomaly at {record.http_url} ({record.ingress})")
    for name, state in sorted(document["applications"].items()):
        table.add_row(name, state)
    out.print(table)
    served = Table(
        "model", "version", "placement", "weight %", title=f"served state, revision {desired.revision}"
    )
    for v in versions:
        served.add_row(v["model"], str(v["version"]), v["placement"], str(v["weight"]))
    out.print(served)
    for line in document["differences"] or ["live serving matches the recorded state"]:
        out.print(line, highlight=False)


def _live_table(record: RuntimeRecord) -> dict | None:
    """The gateway's live table (one replica's, shown to any token's holder), or None when it does
    not answer."""
    import httpx

    token = ControllerSettings.resolve().client_token()
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.get(f"{record.http_url}/api/v1/traffic", headers=headers, timeout=5.0)
        return answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def differences(desired: DesiredState, live: dict | None, applications: dict) -> list[str]:
    """Where what serves differs from the recorded state (pure)."""
    if live is None:
        return ["the gateway does not answer: nothing serves"]
    found = []
    if live.get("revision") != desired.revision:
        found.append(
            f"the gateway serves revision {live.get('revision')}, the record is at {desired.revision}"
        )
    recorded = {m: {str(v): w for v, w in t.weights.items()} for m, t in desired.traffic.models.items()}
    serving = {m: t.get("weights", {}) for m, t in live.get("models", {}).items()}
    for model in sorted(set(recorded) | set(serving)):
        if recorded.get(model) != serving.get(model):
            found.append(f"{model}: recorded {recorded.get(model)}, serving {serving.get(model)}")
    for name in desired.applications:
        state = applications.get(name, {}).get("status", "NOT_STARTED")
        if state != "RUNNING":
            found.append(f"application {name} is {state}")
    return found


traffic_app = typer.Typer(no_args_is_help=True, help="Change how traffic is split between versions.")


@traffic_app.command("set")
@reports_errors
def traffic_set(
    model: Annotated[str, typer.Argument(help="Model name.")],
    weights: Annotated[list[str], typer.Argument(help="VERSION=WEIGHT ... summing to 100.")],
    shadow: Annotated[list[str], typer.Option(help="VERSION=PERCENT mirrored (repeatable).")] = [],  # noqa: B006
    sticky_header: Annotated[
        str | None, typer.Option(help="Header that pins a caller to one version.")
    ] = None,
):
    """Deploy any version not yet running and apply the weights, in place."""
    from runtime.serving import put_staged, wait_ready
    from runtime.traffic import ModelTraffic, parse_assignments

    settings = _settings()
    record, current = _running(settings)
    check_name(model)
    traffic = ModelTraffic(
        weights={v: int(w) for v, w in parse_assignments(weights, "weight").items()},
        shadows=dict(parse_assignments(shadow, "percent")),
        sticky_header=sticky_header,
    )
    model_store = ModelStore(current.store)
    for version in traffic.versions:
        model_store.manifest(model, version)  # refuses unknown or tampered versions before deploying
    with err.status("applying") as progress:
        api = _api(settings, record)

        def settle(desired: DesiredState) -> None:
            wait_ready(api, record.http_url, desired, READY_TIMEOUT_S, progress=progress.update)

        settle(put_staged(api, settings, current, model, traffic, settle=settle))
    out.print(f"{model}: " + ", ".join(f"v{v}={w}%" for v, w in sorted(traffic.weights.items())))


def register(app: typer.Typer) -> None:
    """Add the runtime commands to the root `raynomaly` command."""
    app.command("up")(reports_errors(up))
    app.command("down")(reports_errors(down))
    app.command("status")(reports_errors(status))
    app.add_typer(traffic_app, name="traffic")
