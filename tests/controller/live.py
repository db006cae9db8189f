"""Helpers of the live rollout tests: steady load through the gateway, and the control API."""

import collections
import ssl
import threading
import time

import httpx
import numpy as np

from models.demo import readings

TERMINAL = {"Succeeded", "RolledBack", "Aborted", "Failed"}


class Load:
    """Paced requests of 8 fresh rows (the training distribution, so dynamic batching applies) to
    `model` from a few threads, counting every status code, until stopped. With `retry_closed`, a
    request whose keep-alive connection the server closed before any response is sent once more, as
    HTTP/1.1 lets a client do for idempotent requests (scoring is); `closed` counts those."""

    def __init__(self, http: str, model: str = "sensor", rate: float = 50.0, threads: int = 4,
                 retry_closed: bool = False, key: str | None = None):  # fmt: skip
        self.headers = {"authorization": f"Bearer {key}"} if key else {}
        self.url, self.model, self.rate, self.threads = f"{http}/api/v1/predict/batch", model, rate, threads
        self.rows = readings(25_000, 0.02, seed=1)[5000:]  # same generator as train.csv, unseen rows
        self.statuses: collections.Counter = collections.Counter()
        self.versions: collections.Counter = collections.Counter()
        self.retry_closed, self.closed = retry_closed, 0
        self._stop = threading.Event()
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, worker: int) -> None:
        period, rng = self.threads / self.rate, np.random.default_rng(worker)
        with httpx.Client(timeout=30.0) as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                start = rng.integers(0, len(self.rows) - 8)
                body = {"model": self.model, "instances": self.rows[start : start + 8].tolist()}
                try:
                    try:
                        response = client.post(self.url, json=body, headers=self.headers)
                    except httpx.RemoteProtocolError:
                        if not self.retry_closed:
                            raise
                        self.closed += 1
                        response = client.post(self.url, json=body, headers=self.headers)
                    self.statuses[response.status_code] += 1
                    if response.status_code == 200:
                        self.versions[response.json()["version"]] += 1
                except httpx.HTTPError as e:
                    self.statuses[type(e).__name__] += 1
                next_at += period
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    @property
    def failed(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200)

    def __enter__(self) -> "Load":
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)


class Control:
    """The control API with the admin token `up` wrote (or that of the controller `environ` names)."""

    def __init__(self, served, environ: dict[str, str] | None = None):
        from controller.settings import ControllerSettings

        settings = ControllerSettings.resolve(environ or served.environ)
        self.served = served
        ca = settings.client_ca() if settings.url.startswith("https") else None
        self.client = httpx.Client(
            base_url=settings.url,
            verify=ssl.create_default_context(cafile=str(ca)) if ca else True,
            timeout=30.0,
            headers={"Authorization": f"Bearer {settings.client_token()}"},
        )

    def rollout(self, rollout_id: str) -> dict:
        return self.client.get(f"/api/v1/rollouts/{rollout_id}").raise_for_status().json()

    def wait(self, rollout_id: str, until, timeout_s: float = 240.0) -> dict:
        """Poll until `until(rollout)` holds; AssertionError with the record on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = self.rollout(rollout_id)
            if until(answer["rollout"]):
                return answer
            time.sleep(0.5)
        raise AssertionError(f"rollout did not get there in {timeout_s:.0f} s: {answer['rollout']}")

    def finished(self, rollout_id: str, timeout_s: float = 240.0) -> dict:
        """Wait until the rollout ended and its last decision is applied."""
        return self.wait(rollout_id, lambda r: r["phase"] in TERMINAL and r["applied"], timeout_s)

    def abort_active(self, model: str) -> None:
        """Abort whatever rollout of `model` a failed test left running, and wait for it to end."""
        for rollout in self.client.get("/api/v1/rollouts", params={"model": model, "active": True}).json():
            if rollout["phase"] not in TERMINAL:
                self.client.post(f"/api/v1/rollouts/{rollout['id']}/abort")
            self.finished(rollout["id"], timeout_s=120)


def moves(answer: dict) -> list[str]:
    """The decisions that changed traffic, in order (holds on too little traffic, or on a noisy
    window within the failure limit, left out)."""
    return [e["name"] for e in answer["events"] if e["kind"] == "decision" and e["name"] != "hold"]


def verdicts(answer: dict) -> list[dict]:
    return [e["detail"] for e in answer["events"] if e["kind"] == "verdict"]


def measurement(verdict: dict, name: str) -> dict:
    return next(m for m in verdict["measurements"] if m["name"] == name)


def story(answer: dict) -> str:
    """Every decision and the deciding measurements, for assertion messages."""
    lines = []
    for event in answer["events"]:
        detail = event["detail"]
        if event["kind"] == "decision":
            lines.append(f"decision {event['name']}: {detail['reason']}")
        else:
            bad = [m["message"] for m in detail["measurements"] if m["outcome"] != "Successful"]
            lines.append(f"verdict {detail['outcome']}: {'; '.join(bad)}")
    return "\n".join(lines)
