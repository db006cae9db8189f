"""The rollout report: a rollout's timeline drawn for people who would rather look than read.

`render` draws traffic weights, p99 latency per version, each judge's p-value against its alpha, and
each judge's effect against its floor (with its interval) over time on one figure, marks every
decision, and writes either the figure (`.png`) or one self-contained page with the figure and the
decisions and verdicts as tables (`.html`). Any value in the record may be missing; a panel with
nothing shows so.
"""

import base64
import html
import io
import math
import os
import pathlib
import uuid

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from controller.analysis.verdict import VERDICT, Look, Measurement

GOOD = frozenset({"succeed", "promote", "switch"})
EMPTY = "no analysis windows yet"
STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    ".Failed,.Error{color:#b00}.Inconclusive{color:#a60}.Successful{color:#070}"
)


def render(rollout: dict, events: list[dict], output: pathlib.Path) -> pathlib.Path:
    """Draw `rollout`'s timeline from its `events` into `output` (.png or .html, written atomically)."""
    output = pathlib.Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".png", ".html"):
        raise ValueError(f"report {output.name!r}: unknown suffix {output.suffix!r}; use .html or .png")
    events = sorted(events, key=lambda e: e["ts"])
    png = _png(rollout, events)
    data = png if suffix == ".png" else _page(rollout, events, png).encode()
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
    return output


def title(rollout: dict) -> str:
    """`fraud: v1 -> v2 (canary) — Progressing`."""
    spec, stable = rollout.get("spec") or {}, rollout.get("stable")
    source = f"v{stable}" if stable is not None else "nothing"
    return (
        f"{spec.get('model')}: {source} -> v{spec.get('candidate')} ({spec.get('strategy')})"
        f" — {rollout.get('phase')}"
    )


def _start(rollout: dict, events: list[dict]) -> float:
    return rollout.get("created") or (events[0]["ts"] if events else 0.0)


def _png(rollout: dict, events: list[dict]) -> bytes:
    start = _start(rollout, events)
    end = max([rollout.get("updated") or start, *(e["ts"] for e in events)]) - start
    decisions = [e for e in events if e.get("kind") == "decision"]
    verdicts = [e for e in events if e.get("kind") == VERDICT]
    colours = {v: f"C{i % 10}" for i, v in enumerate(_versions(rollout, events))}
    fig = Figure(figsize=(11, 12), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True)
    _traffic(axes[0], rollout, decisions, start, end, colours)
    latency, p_values, effects = _looks(verdicts, start)
    _lines(axes[1], "p99 latency (ms)", latency, set(), colours)
    _lines(axes[2], "p-value / alpha\n(rolls back below 1)", p_values, {1.0}, {})
    axes[2].set_yscale("log") if p_values else None
    _effects(axes[3], effects)
    for event in decisions:
        name, at = str(event.get("name")), event["ts"] - start
        colour = "red" if name == "rollback" else "green" if name in GOOD else "grey"
        for ax in axes:
            ax.axvline(at, color=colour, linestyle=":", linewidth=1.2)
        axes[0].annotate(name, (at, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),
                         textcoords="offset points", rotation=90, va="top", fontsize=7, color=colour,
                         parse_math=False)  # fmt: skip
    axes[3].set_xlim(0, max(end, 1.0))
    axes[3].set_xlabel("seconds since the rollout was created")
    fig.suptitle(title(rollout), parse_math=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _keyed(mapping: dict | None) -> dict:
    """Version-keyed JSON (`{"2": x}`, values possibly null) -> `{"v2": x or 0}`."""
    return {f"v{k}": v or 0 for k, v in (mapping or {}).items()}


def _versions(rollout: dict, events: list[dict]) -> list[str]:
    found = {f"v{v}" for v in (rollout.get("stable"), (rollout.get("spec") or {}).get("candidate")) if v}
    for event in events:
        detail = event.get("detail") or {}
        traffic = detail.get("traffic") or {}
        found |= {*_keyed(traffic.get("weights")), *_keyed(traffic.get("shadows"))}
        found |= set(_keyed(detail.get("versions")))
    return sorted(found, key=lambda v: (len(v), v))


def _traffic(ax: Axes, rollout: dict, decisions: list[dict], start: float, end: float, colours: dict) -> None:
    stable = rollout.get("stable")
    points = [(0.0, {f"v{stable}": 100}, {})] if stable is not None else []
    for event in decisions:
        traffic = (event.get("detail") or {}).get("traffic") or {}
        points.append((event["ts"] - start, _keyed(traffic.get("weights")), _keyed(traffic.get("shadows"))))
    ax.set_ylabel("traffic %")
    if not points:
        ax.text(0.5, 0.5, "no decisions yet", transform=ax.transAxes, ha="center", color="grey")
        return
    times = [t for t, _, _ in points] + [max(end, points[-1][0])]
    for version, colour in colours.items():
        weights = [w.get(version, 0) for _, w, _ in points]
        shadows = [s.get(version, 0) for _, _, s in points]
        if any(version in w for _, w, _ in points):
            ax.step(times, weights + weights[-1:], where="post", color=colour, label=version)
        if any(shadows):
            ax.step(times, shadows + shadows[-1:], where="post", color=colour, linestyle="--",
                    label=f"{version} mirrored")  # fmt: skip
    ax.set_ylim(-5, 105)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)


def _looks(verdicts: list[dict], start: float) -> tuple[dict, dict, dict]:
    """Per look: p99 latency per version, each judge's p-value over its alpha, and each judge's
    effect over its floor as (time, estimate, low, high)."""
    latency: dict[str, list[tuple[float, float]]] = {}
    p_values: dict[str, list[tuple[float, float]]] = {}
    effects: dict[str, list[tuple[float, float, float, float]]] = {}
    for event in verdicts:
        look, at = Look.of(event), event["ts"] - start
        for version, figures in _keyed(look.versions).items():
            if (value := (figures or {}).get("p99_ms")) is not None:
                latency.setdefault(version, []).append((at, value))
        for m in look.verdict.measurements:
            if m.kind != "judge" or m.p_value is None:
                continue
            p_values.setdefault(m.name, []).append((at, max(m.p_value / m.alpha, 1e-3)))
            if m.threshold and m.value is not None:
                scaled = [v / m.threshold if v is not None else math.nan for v in (m.value, m.low, m.high)]
                effects.setdefault(m.name, []).append((at, *scaled))
    return latency, p_values, effects


def _effects(ax: Axes, effects: dict) -> None:
    ax.set_ylabel("effect / floor\n(interval; fails above 1)")
    if not effects:
        ax.text(0.5, 0.5, EMPTY, transform=ax.transAxes, ha="center", color="grey")
        return
    for i, (name, points) in enumerate(sorted(effects.items())):
        at, value, low, high = (list(column) for column in zip(*points, strict=True))
        top = [h if math.isfinite(h) else max(value) * 2 for h in high]  # an unbounded end drawn short
        below = [max(v - lo, 0) if math.isfinite(lo) else 0 for v, lo in zip(value, low, strict=True)]
        above = [max(t - v, 0) for v, t in zip(value, top, strict=True)]
        ax.errorbar(at, value, yerr=[below, above], marker="o", capsize=3, color=f"C{i}", label=name)
    ax.axhline(1.0, color="red", linestyle="--", linewidth=1, label="floor")
    ax.legend(loc="best", fontsize=8)


def _lines(ax: Axes, label: str, series: dict, limits: set[float], colours: dict[str, str]) -> None:
    ax.set_ylabel(label)
    if not series:
        ax.text(0.5, 0.5, EMPTY, transform=ax.transAxes, ha="center", color="grey")
        return
    for name, points in sorted(series.items()):
        ax.plot(*zip(*points, strict=True), marker="o", color=colours.get(name), label=name)
    for limit in sorted(limits):
        ax.axhline(limit, color="red", linestyle="--", linewidth=1, label=f"limit {limit:g}")
    ax.legend(loc="best", fontsize=8)


def _text(value: object) -> str:
    if value is None:
        return "—"
    return html.escape(f"{value:.4g}" if isinstance(value, float) else str(value))


def _table(headers: tuple[str, ...], cells: list[list[str]]) -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
    empty = f'<tr><td colspan="{len(headers)}">none yet</td></tr>'
    return f"<table><tr>{''.join(f'<th>{h}</th>' for h in headers)}</tr>{body or empty}</table>"


def _measurements(look: Look) -> str:
    return "<br>".join(
        f'<span class="{_text(m.outcome)}" title="{_text(m.message)}">{_text(m.name)}='
        f"{_text(m.value)}{_evidence(m)} vs {_text(m.threshold)}: {_text(m.outcome)}</span>"
        for m in look.verdict.measurements
    )


def _evidence(m: Measurement) -> str:
    """A judge's interval and p-value against its alpha, as text."""
    if m.p_value is None:
        return ""
    return f" [{_text(m.low)}, {_text(m.high)}] p={m.p_value:.2g}/{m.alpha:.2g}"


def _page(rollout: dict, events: list[dict], png: bytes) -> str:
    start, heading = _start(rollout, events), _text(title(rollout))
    decisions, verdicts = [], []
    for event in events:
        detail, offset = event.get("detail") or {}, f"+{event['ts'] - start:.1f} s"
        if event.get("kind") == "decision":
            fields = (event.get("name"), detail.get("phase"), detail.get("step"), detail.get("reason"))
            decisions.append([offset, *map(_text, fields)])
        elif event.get("kind") == VERDICT:
            look = Look.of(event)
            verdicts.append([offset, _text(look.verdict.outcome), _measurements(look)])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{heading}</title><style>{STYLE}</style></head><body>
<h1>{heading}</h1>
<p>Rollout {_text(rollout.get("id"))}, step {_text(rollout.get("step"))}: {_text(rollout.get("reason"))}</p>
<img alt="timeline of the rollout" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<h2>Decisions</h2>
{_table(("time", "name", "phase", "step", "reason"), decisions)}
<h2>Verdicts</h2>
{_table(("time", "outcome", "measurements"), verdicts)}
</body></html>
"""
