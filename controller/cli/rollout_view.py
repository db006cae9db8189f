"""What `rollout status` and `rollout watch` show: the rollout, each judge's evidence over the step
(p-value falling toward its alpha, effect with its interval, what it still needs), the last
window's ceilings and, when judged, the candidate's input drift over the step. Pure: a rollout
record and its events in, a rich renderable out."""

import math

from rich.console import Group
from rich.table import Table

from controller.analysis.judges import waiting_for
from controller.analysis.verdict import INPUT, Look, Measurement, Outcome, Verdict, looks
from controller.rollouts.spec import TERMINAL
from controller.rollouts.strategies import strategy_for

TREND = "▁▂▃▄▅▆▇█"
COLOURS = {"Successful": "green", "Failed": "red", "Inconclusive": "yellow", "Error": "red"}


def view(rollout: dict, events: list[dict]) -> Group:
    """The rollout's head, its judges and its ceilings."""
    spec, traffic = rollout["spec"], rollout["traffic"] or {}
    weights = ", ".join(f"v{v}={w}%" for v, w in sorted(traffic.get("weights", {}).items()))
    shadows = ", ".join(f"v{v} {p:g}%" for v, p in sorted(traffic.get("shadows", {}).items()))
    head = Table.grid(padding=(0, 2))
    head.add_row("rollout", f"{rollout['id']}  {spec['model']} v{rollout['stable']} -> v{spec['candidate']}")
    steps = (spec.get(strategy_for(spec["strategy"]).field) or {}).get("steps")
    of = f"/{len(steps)}" if steps else ""
    head.add_row("phase", f"{rollout['phase']}  step {rollout['step'] + 1}{of} ({spec['strategy']})")
    head.add_row("traffic", weights + (f"  mirrored: {shadows}" if shadows else ""))
    head.add_row("target", target_name(spec.get("target") or {}))
    head.add_row("reason", rollout["reason"])
    if rollout.get("waiting"):
        head.add_row("waiting", rollout["waiting"])
    step = _step_looks(rollout, looks(events))
    last = step[-1] if step else Look(Verdict(Outcome.INCONCLUSIVE))  # nothing measured yet
    unseen = waiting_for(last.verdict.measurements, last.evidence_s)
    if unseen and rollout["phase"] not in TERMINAL:
        head.add_row("evidence", f"to see a regression of twice a floor: {unseen}")
    alpha = f"{spec.get('alpha', 0.01):g}"
    judges = Table(title=f"judges over the step (alpha {alpha} for the whole rollout)")
    for column in ("judge", "effect [interval]", "floor", "p / alpha", "p trend", "samples", "outcome"):
        judges.add_column(column, no_wrap=True)
    ceilings = Table("ceiling", "value", "limit", "outcome", title="latest window")
    inputs = Table("check", "largest PSI", "limit", "outcome", "detail", title="inputs over the step")
    for m in last.verdict.measurements:
        outcome = f"[{COLOURS.get(m.outcome, 'white')}]{m.outcome}[/]"
        if m.kind == "judge":
            history = trend([_p(look, m.name) for look in step], m.alpha)
            judges.add_row(m.name, _effect(m), _number(m.threshold), _ratio(m), history, _samples(m), outcome)
        elif m.kind == "ceiling":
            ceilings.add_row(m.name, _number(m.value), _number(m.threshold), outcome)
        elif m.kind == INPUT:
            inputs.add_row(m.name, _number(m.value), _number(m.threshold), outcome, m.message)
    return Group(head, judges, ceilings, *([inputs] if inputs.row_count else []))


def target_name(target: dict) -> str:
    if target.get("kind", "local") == "local":
        return "local"
    return f"{target['kind']}: RayService {target['namespace']}/{target['rayservice']}"


def trend(p_values: list[float | None], alpha: float | None) -> str:
    """One character per look: how far each p-value has fallen from 1 toward alpha (full at alpha)."""
    if not alpha:
        return ""
    cells = []
    for p in p_values:
        if p is None:
            cells.append(" ")
            continue
        progress = min(math.log(max(p, 1e-300)) / math.log(alpha), 1.0)
        cells.append(TREND[round(progress * (len(TREND) - 1))])
    return "".join(cells[-24:])


def _step_looks(rollout: dict, recorded: list[Look]) -> list[Look]:
    """The looks of the current step (a look that names no step counts), oldest first; else the
    latest look."""
    current = rollout["step"]
    return [look for look in recorded if look.step in (None, current)] or recorded[-1:]


def _p(look: Look, name: str) -> float | None:
    return next((m.p_value for m in look.verdict.measurements if m.name == name), None)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _effect(m: Measurement) -> str:
    interval = f" [{_number(m.low)}, {_number(m.high)}]" if m.low is not None else ""
    return _number(m.value) + interval


def _ratio(m: Measurement) -> str:
    if m.p_value is None:
        return "-"
    return f"{m.p_value:.2g}/{m.alpha:.2g}"


def _samples(m: Measurement) -> str:
    samples = m.samples or 0
    if m.needed is None or math.isinf(m.needed):
        return f"{samples:.0f}" + ("" if not samples else " (needs more traffic)")
    return f"{samples:.0f}" + (f" of ~{m.needed:.0f}" if m.needed > samples else "")
