"""The ratios gate: the scoring benchmark's speed-ups, measured now, against those recorded.

A speed-up is a compiled scorer's rows/s over its PyOD reference's, both timed interleaved in one
process (`benchmarks/bench_scoring.py`). Absolute rows/s follow the machine; the ratio of two scorers
on the same machine mostly does not, so a CI runner can be held to the ratios recorded in
`benchmarks/results/scoring.json`. A fresh quick run (`bench_scoring.py --quick`, the recorded
training size and features, as many BLAS threads as the recording machine had CPUs) fails the gate
where a ratio falls below `--tolerance` times the recorded one, or where a recorded ratio is no longer
measured. A ratio measured but never recorded passes, and is listed so that it gets recorded.

    python benchmarks/gates/ratios.py [--tolerance 0.7] [--recorded PATH] [--fresh PATH]

The serving and Open Inference Protocol benchmarks' ratios (`serving.json`, `oip.json`) need a
running Ray Serve and wrk; they are not part of this gate.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "bench_scoring.py"
RECORDED = ROOT / "benchmarks" / "results" / "scoring.json"
TOLERANCE = 0.7


class Outcome(StrEnum):
    """How one fresh ratio stands against its recorded value."""

    HELD = "held"
    """Measured at or above tolerance x recorded."""
    BELOW = "below"
    """Measured below tolerance x recorded: the gate fails."""
    MISSING = "missing"
    """Recorded, but the fresh run did not measure it: the gate fails."""
    NEW = "new"
    """Measured, never recorded: passes; re-record the results to hold it from now on."""


FAILING = frozenset({Outcome.BELOW, Outcome.MISSING})


@dataclass(frozen=True)
class Comparison:
    """One named ratio: recorded and fresh values (None where absent) and the outcome."""

    ratio: str
    recorded: float | None
    fresh: float | None
    outcome: Outcome


def speedups(document: Mapping[str, Any], source: str) -> dict[str, float]:
    """Every speed-up of a scoring benchmark document, named `detector/backend batch N` (pure).

    ValueError naming `source` and the missing field where the document is no such document."""
    try:
        return {
            f"{r['detector']}/{r['backend']} batch {r['batch']}": float(r["speedup"])
            for r in document["results"]
        }
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(
            f"{source} is not a scoring benchmark document ({type(e).__name__}: {e}); "
            f"write one with python {BENCH.relative_to(ROOT)}"
        ) from None


def compare(recorded: Mapping[str, float], fresh: Mapping[str, float], tolerance: float) -> list[Comparison]:
    """Each ratio of either run, by name, with its outcome at `tolerance` (pure)."""
    comparisons = []
    for ratio in sorted(recorded.keys() | fresh.keys()):
        before, now = recorded.get(ratio), fresh.get(ratio)
        if before is None:
            outcome = Outcome.NEW
        elif now is None:
            outcome = Outcome.MISSING
        else:
            outcome = Outcome.HELD if now >= tolerance * before else Outcome.BELOW
        comparisons.append(Comparison(ratio, before, now, outcome))
    return comparisons


def failures(comparisons: list[Comparison], tolerance: float) -> list[str]:
    """One line per failing ratio, saying what fell short and by how much (pure)."""
    lines = []
    for c in comparisons:
        if c.outcome is Outcome.BELOW:
            lines.append(
                f"{c.ratio}: {c.fresh:.2f}x is below {tolerance:g} x the recorded {c.recorded:.2f}x "
                f"(= {tolerance * c.recorded:.2f}x)"
            )
        elif c.outcome is Outcome.MISSING:
            lines.append(f"{c.ratio}: recorded ({c.recorded:.2f}x) but not measured by the fresh run")
    return lines


def table(comparisons: list[Comparison], tolerance: float) -> Table:
    """The comparisons as a table: recorded, fresh, their quotient and the outcome."""
    view = Table(title=f"compiled vs reference speed-ups: fresh against recorded (fail below {tolerance:g}x)")
    for column in ("ratio", "recorded", "fresh", "fresh / recorded", "outcome"):
        view.add_column(column, justify="left" if column in ("ratio", "outcome") else "right")
    for c in comparisons:
        quotient = f"{c.fresh / c.recorded:.2f}" if c.fresh is not None and c.recorded else "-"
        style = "red" if c.outcome in FAILING else ("yellow" if c.outcome is Outcome.NEW else "green")
        view.add_row(
            c.ratio,
            "-" if c.recorded is None else f"{c.recorded:,.2f}x",
            "-" if c.fresh is None else f"{c.fresh:,.2f}x",
            quotient,
            f"[{style}]{c.outcome}[/{style}]",
        )
    return view


def measure(recorded: Mapping[str, Any], output: Path) -> None:
    """Run the scoring benchmark's quick mode into `output`, with the recorded data shape and, where
    recorded, the recording machine's CPU count as the BLAS thread limit."""
    settings = recorded.get("settings", {})
    command = [sys.executable, str(BENCH), "--quick", "--output", str(output)]
    for flag, key in (("--train-rows", "train_rows"), ("--features", "features")):
        if key in settings:
            command += [flag, str(settings[key])]
    environment = dict(os.environ)
    cpus = recorded.get("machine", {}).get("cpus")
    if cpus:
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            environment[variable] = str(cpus)
    subprocess.run(command, env=environment, check=True, stdout=subprocess.DEVNULL)


def load(path: Path) -> dict[str, Any]:
    """The JSON document at `path`; ValueError naming the file where it cannot be read."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}; pass a scoring benchmark document") from None


def tolerance_value(text: str) -> float:
    """A tolerance from the command line: a fraction in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"{text} is not in (0, 1]; 0.7 fails below 70% of the recorded ratio"
        )
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=tolerance_value, default=TOLERANCE)
    parser.add_argument("--recorded", type=Path, default=RECORDED)
    parser.add_argument("--fresh", type=Path, help="a quick run's document to compare (default: run one now)")
    args = parser.parse_args()
    console = Console() if sys.stdout.isatty() else Console(width=120)  # CI logs are wide
    started = time.perf_counter()
    try:
        recorded_document = load(args.recorded)
        recorded = speedups(recorded_document, str(args.recorded))
        if args.fresh is None:
            with tempfile.TemporaryDirectory() as folder:
                console.print(f"measuring: {BENCH.relative_to(ROOT)} --quick", style="dim")
                measure(recorded_document, Path(folder) / "scoring.json")
                fresh = speedups(load(Path(folder) / "scoring.json"), "the fresh run")
        else:
            fresh = speedups(load(args.fresh), str(args.fresh))
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    except subprocess.CalledProcessError as e:
        console.print(f"[red]the scoring benchmark exited with {e.returncode}; its output is above[/red]")
        return 2
    comparisons = compare(recorded, fresh, args.tolerance)
    console.print(table(comparisons, args.tolerance))
    console.print(f"{time.perf_counter() - started:.0f} s", style="dim")
    new = [c.ratio for c in comparisons if c.outcome is Outcome.NEW]
    if new:
        console.print(f"not recorded yet (run {BENCH.relative_to(ROOT)} to record): {', '.join(new)}")
    failed = failures(comparisons, args.tolerance)
    if failed:
        console.print("[red]ratios gate failed:[/red]\n  " + "\n  ".join(failed))
        console.print(
            "a real slowdown of a compiled scorer is fixed in models/; a deliberate change is recorded "
            f"with python {BENCH.relative_to(ROOT)} on the reference machine"
        )
        return 1
    held = sum(c.outcome is Outcome.HELD for c in comparisons)
    console.print(f"ratios gate passed: {held} recorded ratios held at {args.tolerance:g}x or better")
    return 0


if __name__ == "__main__":
    sys.exit(main())
