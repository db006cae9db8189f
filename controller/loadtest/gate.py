"""The load-test gate: a real headless Locust run against the pinned candidate, judged per analysis step.

`LocustGate(http_url, features_of)(loadtest, model, version)` runs

    python -m locust -f controller/loadtest/locustfile.py --headless --users U --spawn-rate U
        --run-time {ceil(duration)}s --host HTTP_URL --json --only-summary --loglevel WARNING

in a subprocess (Locust monkey-patches the standard library with gevent when imported, so the
controller never imports it), and turns the final statistics into two Measurements:

- `loadtest_p99_ms`: the 99th percentile response time of all requests, failed ones included; Failed
  above `max_p99_ms`. `--json` prints one statistics entry per request name (no aggregate and no
  percentile fields); each carries `response_times`, Locust's histogram {milliseconds: count} with
  times bucketed to about two significant digits (exact below 100 ms, 10 ms steps below 1 s, 100 ms
  steps below 10 s). The gate merges the entries' histograms and takes the percentile the way Locust
  does (`locust.stats.calculate_response_time_percentile`), so the value is the "99%" of Locust's own
  report, with the same bucketing.
- `loadtest_error_rate`: `num_failures / num_requests`; Failed above `max_error_rate`. A non-2xx
  answer is a failure, and so is a request whose connection was refused or reset.

No request completed -> both Inconclusive. Every request failed without any HTTP answer (nothing
listens at `http_url`) -> both Error: the gateway, which every version shares, is unreachable, which
says nothing about the candidate (rolling it back would not help); when only some requests got no
answer they count as failures. Locust not starting, running past `duration + timeout_margin_s`, or
printing no statistics -> both Error, naming what happened with the last lines of its stderr. Locust's
exit code 1 only says that some request failed, so the statistics are judged whatever the exit code.

The subprocess runs in an empty temporary directory, without the caller's LOCUST_* variables, so no
locust.conf, pyproject.toml or environment setting changes the command.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np

from controller.analysis.loadtest import LoadTest
from controller.analysis.verdict import Measurement, Outcome

LOCUSTFILE = resources.files("controller.loadtest") / "locustfile.py"
"""The package's locustfile (Locust is given a file: `run` makes it one if the package is zipped)."""
REPORT_PREFIX = "RAYNOMALY_GATE_REPORT "
"""The line the locustfile writes to stderr when the run stops (answered requests, top errors)."""
STDERR_LINES = 5
NAMES = ("loadtest_p99_ms", "loadtest_error_rate")


class GateError(Exception):
    """The load test could not be run or read; the message says what happened."""


@dataclass(frozen=True)
class LocustStats:
    """The final statistics of one run, all request names together."""

    requests: int
    failures: int
    p99_ms: float
    answered: int | None = None
    """Requests that got an HTTP answer (any status); None when the locustfile did not report."""
    errors: dict[str, int] = field(default_factory=dict)
    """The most frequent failures and their counts."""


class LocustGate:
    """Runs the Locust gate against `http_url`; `features_of(model, version)` gives the row width."""

    def __init__(
        self,
        http_url: str,
        features_of: Callable[[str, int], int],
        timeout_margin_s: float = 60.0,
        *,
        locustfile: str | Traversable = LOCUSTFILE,
        key: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.key = key  # the inference key each run presents (None: the gateway is open)
        self.http_url = http_url.rstrip("/")
        self.features_of = features_of
        self.timeout_margin_s = timeout_margin_s
        self.locustfile = Path(locustfile) if isinstance(locustfile, str) else locustfile

    def __call__(self, loadtest: LoadTest, model: str, version: int) -> list[Measurement]:
        """Run the load test against `model` pinned to `version` and judge it; never raises."""
        try:
            n_features = int(self.features_of(model, version))
        except Exception as e:
            return errored(
                f"load test of {model} v{version} not run: its number of features is unknown ({e})"
            )
        try:
            stats = self.run(loadtest, model, version, n_features)
        except GateError as e:
            return errored(f"load test of {model} v{version}: {e}")
        return judge(loadtest, stats)

    def command(self, loadtest: LoadTest, locustfile: Path) -> list[str]:
        """The Locust command line for `loadtest` with `locustfile`."""
        users = str(loadtest.users)
        return [
            sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
            "--users", users, "--spawn-rate", users, "--run-time", f"{math.ceil(loadtest.duration_s)}s",
            "--host", self.http_url, "--json", "--only-summary", "--loglevel", "WARNING",
        ]  # fmt: skip

    def run(
        self,
        loadtest: LoadTest,
        model: str,
        version: int | None,
        n_features: int,
        rows: np.ndarray | None = None,
    ) -> LocustStats:
        """Run Locust and read its final statistics; GateError when it cannot start, hangs or prints none.
        `version` None lets the traffic table route; `rows` (else standard-normal rows) are sent in
        random order."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        env |= {
            "RAYNOMALY_GATE_MODEL": model,
            "RAYNOMALY_GATE_VERSION": "" if version is None else str(version),
            "RAYNOMALY_GATE_FEATURES": str(n_features),
            "RAYNOMALY_GATE_RATE": str(loadtest.rps / loadtest.users) if loadtest.rps else "",
            "RAYNOMALY_GATE_KEY": self.key() or "",
        }
        timeout = loadtest.duration_s + self.timeout_margin_s
        with (
            resources.as_file(self.locustfile) as locustfile,
            tempfile.TemporaryDirectory(prefix="raynomaly-gate-") as cwd,
        ):
            if rows is not None:
                env["RAYNOMALY_GATE_ROWS"] = str(Path(cwd) / "rows.npy")
                np.save(env["RAYNOMALY_GATE_ROWS"], np.asarray(rows, dtype=np.float64))
            try:
                done = subprocess.run(
                    self.command(loadtest, locustfile),
                    cwd=cwd,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired as e:
                raise GateError(f"Locust did not finish within {timeout:g} s{tail(e.stderr)}") from None
            except OSError as e:
                raise GateError(f"Locust could not start: {e}") from None
        try:
            entries = json.loads(done.stdout)
        except ValueError:
            code = done.returncode
            raise GateError(
                f"Locust exited with code {code} without JSON statistics{tail(done.stderr)}"
            ) from None
        stats = parse_stats(entries, done.stderr)
        if stats.requests == 0 and done.returncode != 0:
            raise GateError(
                f"Locust exited with code {done.returncode} before any request{tail(done.stderr)}"
            )
        if stats.requests and stats.answered == 0:
            raise GateError(
                f"no HTTP answer from {self.http_url} to any of {stats.requests} requests{_top(stats)}"
            )
        return stats


def parse_stats(entries: object, stderr: str = "") -> LocustStats:
    """Locust's `--json` entries (and the locustfile's stderr report) -> LocustStats (pure)."""
    try:
        requests = sum(int(e["num_requests"]) for e in entries)
        failures = sum(int(e["num_failures"]) for e in entries)
        timed = sum(int(e["num_requests"]) - int(e.get("num_none_requests") or 0) for e in entries)
        histogram: dict[int, int] = {}
        for entry in entries:
            for ms, count in entry["response_times"].items():
                histogram[int(float(ms))] = histogram.get(int(float(ms)), 0) + int(count)
    except (TypeError, KeyError, ValueError, AttributeError) as e:
        raise GateError(f"unreadable Locust statistics ({type(e).__name__}: {e}){tail(stderr)}") from None
    report = _report(stderr)
    return LocustStats(
        requests=requests,
        failures=failures,
        p99_ms=float(percentile(histogram, timed, 0.99)),
        answered=report.get("answered"),
        errors=report.get("errors") or {},
    )


def percentile(histogram: dict[int, int], count: int, percent: float) -> int:
    """The response time that `percent` of `count` requests finished within, as Locust computes it (pure)."""
    within = int(count * percent)
    seen = 0
    for ms in sorted(histogram, reverse=True):
        seen += histogram[ms]
        if count - seen <= within:
            return ms
    return 0


def judge(loadtest: LoadTest, stats: LocustStats) -> list[Measurement]:
    """The two gate measurements of one run against `loadtest`'s limits (pure)."""
    run = f"{loadtest.users} users, {loadtest.duration_s:g} s, {stats.requests} requests"
    if stats.requests == 0:
        message = f"load test completed no request ({loadtest.users} users, {loadtest.duration_s:g} s)"
        return [Measurement(name, Outcome.INCONCLUSIVE, message=message) for name in NAMES]
    p99_failed = stats.p99_ms > loadtest.max_p99_ms
    rate = stats.failures / stats.requests
    rate_failed = rate > loadtest.max_error_rate
    above = ">" if p99_failed else "<="
    p99 = Measurement(
        NAMES[0],
        Outcome.FAILED if p99_failed else Outcome.SUCCESSFUL,
        stats.p99_ms,
        loadtest.max_p99_ms,
        f"load test p99 {stats.p99_ms:.1f} ms {above} {loadtest.max_p99_ms:g} ms ({run})",
    )
    errors = Measurement(
        NAMES[1],
        Outcome.FAILED if rate_failed else Outcome.SUCCESSFUL,
        rate,
        loadtest.max_error_rate,
        f"load test error rate {rate:.2%} {'>' if rate_failed else '<='} {loadtest.max_error_rate:.2%} "
        f"({stats.failures} of {stats.requests} requests failed{_top(stats)})",
    )
    return [p99, errors]


def errored(message: str) -> list[Measurement]:
    """Both gate measurements as Error with `message`."""
    return [Measurement(name, Outcome.ERROR, message=message) for name in NAMES]


def tail(stderr: str | bytes | None, lines: int = STDERR_LINES) -> str:
    """`; stderr: last lines` on one line (before Locust's summary tables), or nothing when it is empty."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    kept = []
    for line in (stderr or "").splitlines():
        if line.startswith("Type ") and " Name " in line:  # the summary table starts here
            break
        if line.strip() and not line.startswith(REPORT_PREFIX):
            kept.append(line.strip())
    kept = kept[-lines:]
    return f"; stderr: {' | '.join(kept)}" if kept else ""


def _report(stderr: str) -> dict:
    """The locustfile's report line from stderr, or {} when there is none."""
    for line in reversed(stderr.splitlines()):
        if line.startswith(REPORT_PREFIX):
            try:
                report = json.loads(line[len(REPORT_PREFIX) :])
            except ValueError:
                return {}
            return report if isinstance(report, dict) else {}
    return {}


def _top(stats: LocustStats) -> str:
    """`; mostly ERROR (N)` for the most frequent failure, or nothing."""
    if not stats.errors or not stats.failures:
        return ""
    error, count = max(stats.errors.items(), key=lambda item: item[1])
    return f"; mostly {error} ({count})"
