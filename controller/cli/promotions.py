"""`raynomaly promote`, `raynomaly approve` and `raynomaly environments`: moving a version from one
environment to the next through the control API (its token from RAYNOMALY_TOKEN or the admin token
`up` wrote)."""

from typing import Annotated

import typer
from rich.table import Table

from controller.cli.errors import reports_errors
from controller.cli.options import JsonOption, emit, out
from controller.client import connect
from controller.rollouts.strategies import DEFAULT, STRATEGIES
from controller.settings import ControllerSettings

ModelArgument = Annotated[str, typer.Argument(help="Model name.")]
VersionArgument = Annotated[int, typer.Argument(help="Version.")]
TicketOption = Annotated[str | None, typer.Option(help="The change ticket it belongs to (recorded).")]


def promote(
    model: ModelArgument,
    version: VersionArgument,
    to: Annotated[str, typer.Option("--to", help="The environment to promote it to.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = "",
    ticket: TicketOption = None,
    check: Annotated[bool, typer.Option("--check", help="Only say whether it may be promoted now.")] = False,
    as_json: JsonOption = False,
):
    """Start the environment's rollout of a version; refused, naming every reason, unless it succeeded
    upstream (and soaked there) and, where the environment asks, someone approved it."""
    client = connect(ControllerSettings.resolve())
    if check:
        standing = client.get(f"/api/v1/models/{model}/versions/{version}/eligibility", to=to)
        if as_json:
            emit(standing)
            return
        if standing["allowed"]:
            out.print(
                f"v{version} of {model} may be promoted to {to} (upstream rollout {standing['upstream']})"
            )
        else:
            out.print(f"v{version} of {model} may not be promoted to {to} yet:")
            for reason_not in standing["reasons"]:
                out.print(f"  - {reason_not}", soft_wrap=True)
        raise typer.Exit(0 if standing["allowed"] else 1)
    body = {"to": to, "reason": reason, "ticket": ticket}
    rollout = client.post(f"/api/v1/models/{model}/versions/{version}/promote", body)
    if as_json:
        emit({"id": rollout["id"], "model": model, "version": version, "environment": to,
              "strategy": rollout["spec"]["strategy"]})  # fmt: skip
        return
    upstream = (rollout["promotion"] or {}).get("upstream") or {}
    evidence = f", on rollout {upstream['rollout']} in {upstream['environment']}" if upstream else ""
    out.print(
        f"{rollout['id']}: {rollout['spec']['strategy']} of v{version} in {to}{evidence}", soft_wrap=True
    )


def approve(
    model: ModelArgument,
    version: VersionArgument,
    environment: Annotated[str, typer.Option("--for", help="The environment it is approved for.")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded in the audit log).")],
    ticket: TicketOption = None,
    as_json: JsonOption = False,
):
    """Approve a version for an environment (needs that environment's approver role): the approval
    holds for the upstream success it saw; a newer one upstream needs a new approval."""
    body = {"for": environment, "reason": reason, "ticket": ticket}
    approval = connect(ControllerSettings.resolve()).post(
        f"/api/v1/models/{model}/versions/{version}/approve", body
    )
    if as_json:
        emit(approval)
        return
    seen = f" (on rollout {approval['upstream']})" if approval["upstream"] else ""
    out.print(
        f"approved v{version} of {model} for {environment}{seen} as {approval['actor']}: {approval['id']}"
    )


def environments(as_json: JsonOption = False):
    """The environments: where each rolls out, what it must have passed, and who approves."""
    answer = connect(ControllerSettings.resolve()).get("/api/v1/environments")
    if as_json:
        emit(answer)
        return
    table = Table(title=f"environments ({answer['source']})")
    for column in ("environment", "target", "upstream", "soak", "approval", "rollout"):
        table.add_column(column)
    for env in answer["environments"]:
        target = env["target"]
        where = target["kind"] + (f":{target['home']}" if target.get("home") else "")
        if target["kind"] == "kuberay":
            where = f"kuberay:{target['namespace']}/{target['rayservice']}"
        policy = env["approval"]
        approval = "-" if policy is None else policy["role"] + (", four eyes" if policy["four_eyes"] else "")
        strategy = next((n for n, s in STRATEGIES.items() if s.field in env["rollout"]), DEFAULT)
        table.add_row(env["name"], where, env["upstream"] or "-", f"{env['soak']:g} s", approval, strategy)
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the promotion commands to the root `raynomaly` command."""
    app.command("promote")(reports_errors(promote))
    app.command("approve")(reports_errors(approve))
    app.command("environments")(reports_errors(environments))
