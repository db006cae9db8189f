"""`raynomaly models history`: which version of a model served each environment, and when, as the
control API reads it from the rollout records (its token from RAYNOMALY_TOKEN or the admin token
`up` wrote)."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from controller.cli.errors import reports_errors
from controller.cli.options import JsonOption, emit, out


def parse_time(text: str) -> float:
    """Unix seconds, or an ISO 8601 time (UTC unless it names its offset) -> unix seconds (pure);
    ValueError showing both forms."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--at {text!r}: give unix seconds (1718000000) or an ISO 8601 time (2024-06-10T06:13:20Z)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def shown(seconds: float | None, missing: str) -> str:
    """A time in UTC ISO 8601 (`missing` where there is none) (pure)."""
    if seconds is None:
        return missing
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def table(periods: list[dict], title: str) -> Table:
    """The periods as a table: environment, version, from, to, rollout, how (pure)."""
    grid = Table(title=title)
    for column in ("environment", "version", "from", "to", "rollout", "how"):
        grid.add_column(column, no_wrap=column in ("from", "to"))
    for p in periods:
        until = "in progress" if p["in_progress"] else "now"
        grid.add_row(p["environment"], f"v{p['version']}", shown(p["from"], "before the records"),
                     shown(p["to"], until), p["rollout"] or "-", p["how"])  # fmt: skip
    return grid


def history(
    model: Annotated[str, typer.Argument(help="Model name.")],
    environment: Annotated[str | None, typer.Option(help="Only this environment (or target).")] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Only the version serving then: unix seconds or ISO 8601 (UTC unless given)."),
    ] = None,
    as_json: JsonOption = False,
):
    """Which version served each environment when (newest first), from the rollout records; with
    --at, the version serving the environment then."""
    from controller.client import connect
    from controller.settings import ControllerSettings

    when = parse_time(at) if at is not None else None
    answer = connect(ControllerSettings.resolve()).get(
        f"/api/v1/models/{model}/history", environment=environment, at=when
    )
    if as_json:
        emit(answer)
        return
    if when is not None:
        out.print(table([answer], f"{model} in {environment} at {shown(when, '')}"))
        return
    out.print(table(answer, f"{model}: which version served when"))


def register(app: typer.Typer) -> None:
    """Add `history` to the `models` command group."""
    app.command("history")(reports_errors(history))
