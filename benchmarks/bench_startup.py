"""How long does a command take to start, and what does a batch actor pay to import the scoring path?

Each case runs in a fresh interpreter, 5 times; the table shows the median wall time of the whole
process and the median import time of its top-level imports (`python -X importtime`, the cumulative
microseconds of every import at nesting level 0), with the heavy libraries it loaded. Goals: the
commands a person types while a rollout runs start in < 0.6 s; a batch actor imports its scoring
path in < 0.2 s. Results go to `benchmarks/results/startup.json`.

    python benchmarks/bench_startup.py [--runs 5]
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
HEAVY = ("ray", "scipy", "matplotlib", "kubernetes", "sklearn", "onnxruntime", "numba", "locust", "pandas")
TOP_LEVEL = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S+)$")
PROBE = f"import sys; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)}), file=sys.stderr)"


def cases(store: Path) -> list[tuple[str, list[str], float]]:
    """(name, the interpreter's arguments, goal in seconds)."""
    cli = ["-c", f"import sys; sys.argv[0] = 'raynomaly'; from controller.cli import app; {PROBE}; app()"]
    return [
        ("raynomaly --help", [*cli, "--help"], 0.6),
        ("raynomaly rollout status --help", [*cli, "rollout", "status", "--help"], 0.6),
        ("raynomaly models list", [*cli, "models", "list", "--store", str(store)], 0.6),
        ("batch actor: import runtime.batch.scorer", ["-c", f"import runtime.batch.scorer; {PROBE}"], 0.2),
    ]


def run_once(args: list[str]) -> tuple[float, float, list[str]]:
    """(wall seconds, top-level import seconds, heavy libraries loaded) of one fresh interpreter."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "100"})  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode not in (0,):
        raise SystemExit(f"{args} failed:\n{done.stderr[-2000:]}")
    imports = sum(int(m[1]) for line in done.stderr.splitlines() if (m := TOP_LEVEL.match(line)))
    heavy = next((line for line in done.stderr.splitlines() if line.startswith("[")), "[]")
    return wall, imports / 1e6, json.loads(heavy.replace("'", '"'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "models"
        store.mkdir()
        for name, args, goal in cases(store):
            measured = [run_once(args) for _ in range(runs)]
            wall = statistics.median(m[0] for m in measured)
            imports = statistics.median(m[1] for m in measured)
            rows.append({"case": name, "wall_s": round(wall, 3), "imports_s": round(imports, 3),
                         "goal_s": goal, "met": imports < goal, "heavy_loaded": measured[-1][2]})  # fmt: skip
    document = {
        "question": "How quickly do commands start, and a batch actor import its scoring path?",
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },  # fmt: skip
        "method": f"median of {runs} fresh interpreters; imports_s: -X importtime, top-level cumulative",
        "results": rows,
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    table = Table("case", "wall s", "imports s", "goal s", "met", "heavy libraries loaded", title="start-up")
    for r in rows:
        table.add_row(r["case"], f"{r['wall_s']:.3f}", f"{r['imports_s']:.3f}", f"< {r['goal_s']}",
                      "yes" if r["met"] else "NO", ", ".join(r["heavy_loaded"]) or "-")  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
