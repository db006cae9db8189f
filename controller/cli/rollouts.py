"""`raynomaly deploy`, `raynomaly rollout ...` and `raynomaly controller run|token`.

The rollout commands are clients of the control API (token from RAYNOMALY_TOKEN or the admin token
`up` wrote); `controller run` is the service itself.
"""

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from controller.analysis.loadtest import LoadTest, parse_duration
from controller.cli.errors import err, reports_errors
from controller.cli.options import JsonOption, out
from controller.cli.rollout_view import view
from controller.client import ControlClient, connect
from controller.rollouts.spec import COMMANDS, TERMINAL, Phase
from controller.rollouts.strategies import STRATEGIES, strategy_for
from controller.settings import ControllerSettings
from controller.store import open_store
from controller.targets.cluster import IncrementalUpgrade
from controller.targets.spec import TargetRef
from models.private import ensure_secret
from runtime.tokens import check_token_id, mint, token_id

IdArgument = Annotated[str, typer.Argument(help="Rollout id (from deploy or rollout history).")]


def _client() -> ControlClient:
    return connect(ControllerSettings.resolve())


def deploy(
    model: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(help="Version to roll out.")],
    strategy: Annotated[str, typer.Option(help=f"{', '.join(STRATEGIES)}.")] = "canary",
    steps: Annotated[str | None, typer.Option(help="Canary, shadow: percent steps, e.g. 10,50,100.")] = None,
    interval: Annotated[str | None, typer.Option(help="Analysis window, e.g. 30s or 2m.")] = None,
    alpha: Annotated[
        float | None, typer.Option(help="Chance a healthy candidate is rolled back at all (default 0.01).")
    ] = None,
    max_p99_ratio: Annotated[
        float | None, typer.Option(help="p99 regression that matters (x stable).")
    ] = None,
    max_p50_ratio: Annotated[
        float | None, typer.Option(help="p50 regression that matters (x stable).")
    ] = None,
    max_p99_ms: Annotated[float | None, typer.Option(help="Absolute p99 ceiling (ms).")] = None,
    latency_tolerance_ms: Annotated[
        float | None, typer.Option(help="A latency ratio fails only when also this much slower (ms).")
    ] = None,
    max_error_rate: Annotated[
        float | None, typer.Option(help="Server-error share ceiling per window.")
    ] = None,
    max_error_rate_delta: Annotated[
        float | None, typer.Option(help="Extra server-error share that matters (vs stable).")
    ] = None,
    max_ks: Annotated[float | None, typer.Option(help="Score drift that matters (KS distance).")] = None,
    max_input_drift: Annotated[
        float | None, typer.Option(help="Input drift (a feature's PSI vs training) that pauses a step.")
    ] = None,
    min_requests: Annotated[int | None, typer.Option(help="Requests per window for the ceilings.")] = None,
    failure_limit: Annotated[int | None, typer.Option(help="Windows over a ceiling tolerated.")] = None,
    error_limit: Annotated[
        int | None, typer.Option(help="Windows without metrics tolerated before pausing (default 2).")
    ] = None,
    inconclusive_limit: Annotated[
        int | None, typer.Option(help="Inconclusive windows of a step before pausing (default 3).")
    ] = None,
    wait_for_evidence: Annotated[
        bool, typer.Option(help="Hold each step until every judge could see twice its floor.")
    ] = False,
    warm: Annotated[str | None, typer.Option(help="Blue-green: keep the old version warm this long.")] = None,
    shadow_percent: Annotated[
        float | None, typer.Option(help="Blue-green: percent of live traffic mirrored (default 100).")
    ] = None,
    loadtest: Annotated[str | None, typer.Option(help="users=U,duration=D[,p99=MS,errors=RATE]")] = None,
    options: Annotated[str | None, typer.Option(help="Candidate scorer options as JSON.")] = None,
    image: Annotated[str | None, typer.Option(help="Upgrade: the cluster's new image (kuberay).")] = None,
    incremental: Annotated[
        str | None, typer.Option(help="Upgrade in increments: step=PERCENT,interval=SECONDS,gateway=CLASS")
    ] = None,
    target: Annotated[str, typer.Option(help="local, or kuberay (a RayService).")] = "local",
    namespace: Annotated[str | None, typer.Option(help="kuberay: the RayService's namespace.")] = None,
    rayservice: Annotated[str | None, typer.Option(help="kuberay: the RayService's name.")] = None,
    as_json: JsonOption = False,
):
    """Start rolling out a model version; prints the rollout id."""
    thresholds = {
        "max_p99_ratio": max_p99_ratio, "max_p50_ratio": max_p50_ratio, "max_p99_ms": max_p99_ms,
        "max_error_rate": max_error_rate, "max_error_rate_delta": max_error_rate_delta, "max_ks": max_ks,
        "min_requests": min_requests, "latency_tolerance_ms": latency_tolerance_ms,
        "max_input_drift": max_input_drift,
    }  # fmt: skip
    increments = IncrementalUpgrade.parse(incremental).model_dump() if incremental else None
    chosen = {
        "--steps": ("steps", [int(s) for s in steps.split(",")] if steps else None),
        "--warm": ("warm_s", parse_duration(warm) if warm else None),
        "--shadow-percent": ("shadow_percent", shadow_percent),
        "--image": ("image", image),
        "--incremental": ("incremental", increments),
    }
    body = {
        "version": version,
        strategy_for(strategy).field: _options(strategy, chosen),
        "interval_s": parse_duration(interval) if interval else None,
        "alpha": alpha,
        "failure_limit": failure_limit,
        "error_limit": error_limit,
        "inconclusive_limit": inconclusive_limit,
        "wait_for_evidence": wait_for_evidence or None,
        "thresholds": {k: v for k, v in thresholds.items() if v is not None} or None,
        "loadtest": LoadTest.parse(loadtest).model_dump() if loadtest else None,
        "options": json.loads(options) if options else None,
        "target": TargetRef(kind=target, namespace=namespace, rayservice=rayservice).model_dump(
            exclude_none=True
        ),
    }
    rollout = _client().post(
        f"/api/v1/models/{model}/deploy", {k: v for k, v in body.items() if v is not None}
    )
    if as_json:
        print(json.dumps({"id": rollout["id"], "model": model, "version": version, "strategy": strategy}))
    else:
        out.print(rollout["id"])


def _options(strategy: str, chosen: dict[str, tuple[str, object]]) -> dict:
    """The strategy's options from the flags given (flag -> (option, value)); ValueError naming the
    flags that are not options of the strategy."""
    fields = strategy_for(strategy).options.model_fields
    given = {flag: (name, value) for flag, (name, value) in chosen.items() if value is not None}
    if stray := [flag for flag, (name, _) in given.items() if name not in fields]:
        raise ValueError(f"{', '.join(stray)}: not an option of the {strategy} strategy")
    return dict(given.values())


rollout_app = typer.Typer(no_args_is_help=True, help="Follow and steer rollouts.")


@rollout_app.command("status")
@reports_errors
def status(rollout_id: IdArgument, as_json: JsonOption = False):
    """Phase, step, weights, latest measurements and the reason."""
    answer = _client().get(f"/api/v1/rollouts/{rollout_id}")
    if as_json:
        verdicts = [e for e in answer["events"] if e["kind"] == "verdict"]
        latest = verdicts[-1]["detail"] if verdicts else None
        print(json.dumps({**answer["rollout"], "latest_verdict": latest}, indent=2))
        return
    out.print(view(answer["rollout"], answer["events"]))


@rollout_app.command("watch")
@reports_errors
def watch(
    rollout_id: IdArgument, every: Annotated[float, typer.Option(help="Seconds between updates.")] = 1.0
):
    """Live view of weights and analysis until the rollout ends (Ctrl-C leaves it running)."""
    client = _client()
    answer = client.get(f"/api/v1/rollouts/{rollout_id}")
    with Live(view(answer["rollout"], answer["events"]), console=out, refresh_per_second=4) as live:
        while Phase(answer["rollout"]["phase"]) not in TERMINAL:
            time.sleep(every)
            answer = client.get(f"/api/v1/rollouts/{rollout_id}")
            live.update(view(answer["rollout"], answer["events"]))


def _command(name: str):
    @reports_errors
    def command(rollout_id: IdArgument):
        rollout = _client().post(f"/api/v1/rollouts/{rollout_id}/{name}")
        out.print(
            f"{name} requested for {rollout['id']} ({rollout['phase']}); "
            "follow it with 'raynomaly rollout watch'"
        )

    command.__doc__ = f"Ask the controller to {name} the rollout."
    return command


for _name in COMMANDS:
    rollout_app.command(_name)(_command(_name))


@rollout_app.command("history")
@reports_errors
def history(
    model: Annotated[str | None, typer.Argument(help="Only this model.")] = None, as_json: JsonOption = False
):
    """Every rollout, newest first."""
    rollouts = _client().get("/api/v1/rollouts", model=model)
    if as_json:
        print(json.dumps(rollouts, indent=2))
        return
    table = Table("id", "model", "versions", "strategy", "environment", "phase", "reason", title="rollouts")
    for r in rollouts:
        table.add_row(r["id"], r["spec"]["model"], f"v{r['stable']} -> v{r['spec']['candidate']}",
                      r["spec"]["strategy"], r.get("environment") or "-", r["phase"],
                      r["reason"])  # fmt: skip
    out.print(table)


@rollout_app.command("report")
@reports_errors
def report_command(
    rollout_id: IdArgument, output: Annotated[Path, typer.Option(help="FILE.html or FILE.png")]
):
    """A timeline plot of weights, p99 per version and drift."""
    answer = _client().get(f"/api/v1/rollouts/{rollout_id}")
    from controller import report  # matplotlib: imported only for this command

    written = report.render(answer["rollout"], answer["events"], output)
    out.print(f"wrote {written}")


ENVIRONMENTS_HELP = (
    "The environments file (default: environments.yaml here where it exists, else dev and production "
    "on the local runtime)."
)
controller_app = typer.Typer(no_args_is_help=True, help="The controller service and its tokens.")


@controller_app.command("run")
@reports_errors
def run(
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Control API port (default 8600).")] = None,
    prometheus_url: Annotated[str | None, typer.Option(help="Read metrics from this Prometheus.")] = None,
    metrics_url: Annotated[str | None, typer.Option(help="Scrape this Ray metrics endpoint.")] = None,
    gateway_url: Annotated[str | None, typer.Option(help="Load-test through this gateway URL.")] = None,
    kubeconfig: Annotated[str | None, typer.Option(help="kuberay target: kubeconfig file.")] = None,
    context: Annotated[str | None, typer.Option(help="kuberay target: kubeconfig context.")] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS (TLS 1.3) with this certificate (PEM).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's private key (PEM).")] = None,
    environments: Annotated[Path | None, typer.Option(help=ENVIRONMENTS_HELP)] = None,
):
    """Run the rollout loop and the control API in the foreground.

    Without a local runtime (in a cluster), pass --prometheus-url or --metrics-url."""
    from controller import service

    flags = {"prometheus_url": prometheus_url, "metrics_url": metrics_url, "gateway_url": gateway_url}
    flags |= {"kubeconfig": kubeconfig, "kube_context": context, "tls_cert": tls_cert, "tls_key": tls_key}
    flags |= {"environments": environments}
    service.serve(ControllerSettings.resolve(host=host, port=port, **flags))


@controller_app.command("start")
@reports_errors
def start(
    prometheus_url: Annotated[str | None, typer.Option(help="Read metrics from this Prometheus.")] = None,
    metrics_url: Annotated[str | None, typer.Option(help="Scrape this Ray metrics endpoint.")] = None,
    environments: Annotated[Path | None, typer.Option(help=ENVIRONMENTS_HELP)] = None,
):
    """(Re)start the controller in the background, e.g. after a crash, to change its metric source or
    to read a changed environments file."""
    from controller import service

    settings = ControllerSettings.resolve(
        prometheus_url=prometheus_url, metrics_url=metrics_url, environments=environments
    )
    url = service.start_background(settings.with_recorded_tls())
    out.print(f"controller at {url}")


@controller_app.command("stop")
@reports_errors
def stop():
    """Stop the background controller (rollouts stay recorded and resume on the next start)."""
    from controller import service

    service.stop_background(ControllerSettings.resolve())
    out.print("controller stopped")


token_app = typer.Typer(help="Mint a token signed with the local controller's secret, or revoke one.")


@token_app.callback(invoke_without_command=True)
@reports_errors
def token(
    context: typer.Context,
    role: Annotated[
        str,
        typer.Option(
            help="client (may only score), viewer, deployer, approver (approves promotions) or admin "
            "(each may score)."
        ),
    ] = "viewer",
    subject: Annotated[str, typer.Option(help="Who the token is for (shows in the audit log).")] = "user",
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 1h or 30m; at most 90 days.")] = "24h",
    models: Annotated[
        str | None, typer.Option(help="Comma-separated models it may score (default: every model).")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="Its requests/s at the gateway (default: the gateway's per client).")
    ] = None,
):
    """Mint a token (printed on stdout, its id on stderr); 'token revoke ID' revokes one. Inference
    takes any role's token: send it as 'Authorization: Bearer <token>' (gRPC: metadata authorization)."""
    if context.invoked_subcommand is not None:
        return
    from models.store import check_name

    settings = ControllerSettings.resolve()
    names = [check_name(name.strip()) for name in models.split(",")] if models is not None else None
    minted = mint(ensure_secret(settings.secret_path), subject, role, parse_duration(ttl), models=names,
                  rate=rate)  # fmt: skip
    print(minted)
    jti = token_id(minted)
    err.print(f"token id {jti}: revoke it with 'raynomaly controller token revoke {jti}'", soft_wrap=True)


@token_app.command("revoke")
@reports_errors
def revoke(jti: Annotated[str, typer.Argument(help="The token's id, printed when it was minted.")]):
    """Revoke a token in the local controller's store: from now on it gets 401."""
    from controller.revocations import publish

    settings = ControllerSettings.resolve()
    store = open_store(str(settings.database))
    store.revoke(check_token_id(jti), "local-admin")
    publish(store, settings.revoked_path)
    out.print(f"token {jti} revoked (the control API refuses it now, the gateway within a second)")


controller_app.add_typer(token_app, name="token")


def register(app: typer.Typer) -> None:
    """Add the controller commands to the root `raynomaly` command."""
    app.command("deploy")(reports_errors(deploy))
    app.add_typer(rollout_app, name="rollout")
    app.add_typer(controller_app, name="controller")
