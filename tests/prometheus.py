"""A real Prometheus server for integration tests: the `prometheus` binary (Debian's package, which
`make test` installs) on 127.0.0.1, scraping given targets every second and evaluating the given
rule files every second, with its configuration and storage in a temporary directory that goes
when it stops."""

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

JOB = "raynomaly"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    """`with PrometheusServer(["127.0.0.1:8080"]) as prometheus: prometheus.url`; `start()` and
    `stop()` do the same by hand. Started without the lifecycle and admin APIs. The targets are
    scraped as `job`; `rule_files` (paths) are loaded as they are."""

    def __init__(self, targets: list[str], metrics_path: str = "/metrics", port: int | None = None,
                 binary: str = "prometheus", job: str = JOB, rule_files: Sequence[str] = ()):  # fmt: skip
        self.targets, self.metrics_path, self.binary = list(targets), metrics_path, binary
        self.job, self.rule_files = job, [str(Path(f).resolve()) for f in rule_files]
        self._port = port
        self.port: int | None = None
        self._dir: Path | None = None
        self._process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("Prometheus is not started")
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "PrometheusServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> "PrometheusServer":
        """Start it and wait until `/-/ready` answers; RuntimeError with its log's tail if it does
        not. A free port taken by someone else in between is retried with another."""
        if self._process is not None:
            raise RuntimeError("Prometheus is already started")
        binary = shutil.which(self.binary)
        if binary is None:
            raise RuntimeError(
                f"{self.binary!r} is not on PATH: `make system` as root installs Debian's prometheus package"
            )
        self._dir = Path(tempfile.mkdtemp(prefix="raynomaly-prometheus-"))
        config = self._dir / "prometheus.yml"
        config.write_text(json.dumps(self.config(), indent=2))  # JSON is YAML
        try:
            attempts = 1 if self._port else 3
            for attempt in range(1, attempts + 1):
                self.port = self._port or free_port()
                self._spawn(binary, config)
                if self._wait_ready(timeout_s):
                    return self
                if attempt == attempts or "address already in use" not in self.log_tail():
                    raise RuntimeError(self._failure(timeout_s))
                self._terminate()
        except BaseException:
            self.stop()
            raise

    def config(self) -> dict:
        """The configuration file, as a dict."""
        return {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": self.rule_files,
            "scrape_configs": [
                {"job_name": self.job, "metrics_path": self.metrics_path,
                 "static_configs": [{"targets": self.targets}]},
            ],
        }  # fmt: skip

    def _spawn(self, binary: str, config: Path) -> None:
        assert self._dir is not None
        if self._log is not None:
            self._log.close()
        self._log = open(self._dir / "prometheus.log", "wb")  # noqa: SIM115 (closed in stop)
        command = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self._dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=info",
        ]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return True
            time.sleep(0.1)
        return False

    def _failure(self, timeout_s: float) -> str:
        code = self._process.poll()
        why = f"exited with {code}" if code is not None else f"was not ready within {timeout_s:g} s"
        return f"Prometheus on {self.url} {why}; the end of its log:\n{self.log_tail()}"

    def log_tail(self, lines: int = 30) -> str:
        """The last `lines` lines Prometheus logged."""
        if self._dir is None or not (self._dir / "prometheus.log").exists():
            return ""
        if self._log is not None:
            self._log.flush()
        text = (self._dir / "prometheus.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _terminate(self) -> None:
        """SIGTERM to its PID, SIGKILL if it is still there after STOP_TIMEOUT_S."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop it and remove its directory; does nothing if it is not started."""
        self._terminate()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def query(self, promql: str) -> list[dict]:
        """The result of an instant query (a vector's series); AssertionError if it fails."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5.0)
        body = response.json()
        assert body.get("status") == "success", f"{promql}: {body}"
        return body["data"]["result"]

    def wait_for_scrape(
        self, min_samples: int = 1, timeout_s: float = 15.0, after: float | None = None
    ) -> None:
        """Wait until every target is `up == 1` with at least `min_samples` samples scraped and, if
        `after` (a Unix time) is given, its last scrape started after it, so that it holds whatever
        the target exported by then. AssertionError with the targets' state on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            up = self._by_instance(f'up{{job="{self.job}"}}')
            samples = self._by_instance(f'scrape_samples_scraped{{job="{self.job}"}}')
            scraped_at = self._by_instance(f'timestamp(up{{job="{self.job}"}})')
            state = {i: {"up": up[i], "samples": samples.get(i), "scraped_at": scraped_at.get(i)} for i in up}
            if set(state) == set(self.targets) and all(
                s["up"] == 1.0
                and (s["samples"] or 0.0) >= min_samples
                and (after is None or (s["scraped_at"] or 0.0) > after)
                for s in state.values()
            ):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Prometheus did not scrape {self.targets} within {timeout_s:g} s: {state}; "
                    f"the end of its log:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def alerts(self) -> list[dict]:
        """The alerts pending or firing now (`/api/v1/alerts`): labels, annotations, state, value."""
        body = httpx.get(f"{self.url}/api/v1/alerts", timeout=5.0).json()
        assert body.get("status") == "success", body
        return body["data"]["alerts"]

    def _by_instance(self, promql: str) -> dict[str, float]:
        return {s["metric"]["instance"]: float(s["value"][1]) for s in self.query(promql)}
