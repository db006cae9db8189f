"""What does each fault cost callers, and how long until the runtime is back? The fault suite
(tests/faults/, and the controller killed mid-rollout in tests/controller/test_rollouts_live.py)
run against a live runtime under steady load, each fault's figures collected: requests sent and
failed, seconds to recover, the state afterwards. Results: `benchmarks/results/faults.json` and a
table. The suite's assertions still apply: a run that fails one says so and writes nothing.

    python benchmarks/bench_faults.py
"""

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "faults.json"
SUITE = [
    "tests/faults",
    "tests/controller/test_rollouts_live.py::test_a_controller_killed_mid_rollout_resumes_to_the_same_outcome",
]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "faults.jsonl"
        environ = {**os.environ, "RAYNOMALY_FAULTS_REPORT": str(report)}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITE],
                              cwd=ROOT, env=environ)  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"the fault suite failed (exit {done.returncode}); nothing was written")
        faults = [json.loads(line) for line in report.read_text().splitlines()]
    document = {"question": __doc__.splitlines()[0], "measured_at": datetime.now(UTC).isoformat(),
                "machine": {"cpus": os.cpu_count()}, "faults": faults}  # fmt: skip
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    table = Table("fault", "requests sent", "failed", "s to recover", "afterwards", title="faults under load")
    for fault in faults:
        table.add_row(fault["fault"].removeprefix("test_"), str(fault["sent"]), str(fault["failed"]),
                      str(fault["recovered_s"]), fault["after"])  # fmt: skip
    Console(width=200).print(table)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
