"""What a local runtime records under its state folder.

- `runtime.json`: the runtime that runs (its endpoints); written by `up`, removed by `down`.
- `served.json`: the served state, the one source of truth of what should serve: every desired
  state is recorded here, with the next revision, *before* it is applied, and it outlives `down`,
  a crash or a reboot, so that `up` restores it instead of promoting whatever was published last.
  The revision travels to the gateway, whose `/api/v1/traffic` says which one it serves.

Both are written atomically (a temporary file, flushed to disk, renamed over the old one).
`served.json` is written by `up`, `traffic set` and the controller alike, so each write names the
revision it was based on and is checked against it under a file lock (`served.json.lock`): a
writer that lost the race gets `Conflict` instead of silently undoing the other's change.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field

from runtime.conflict import Conflict
from runtime.desired import DesiredState
from runtime.settings import RuntimeSettings, TracingSettings

LOCK_TIMEOUT_S = 30.0
"""How long a writer waits for another one's read-check-write (a few milliseconds of file I/O)."""


class RuntimeRecord(BaseModel):
    """What `raynomaly up` started (`.raynomaly/runtime.json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dashboard_url: str
    http_url: str
    grpc_port: int
    metrics_port: int
    ingress: str
    gcs_port: int | None = None
    """Its Ray GCS port, which `down` stops by (None in records written before it was kept)."""
    tracing_sample: float = 0.0
    """The share of requests Serve traces (0: off), as `up --tracing-sample` set it."""
    otlp_endpoint: str | None = None
    """The OTLP/HTTP collector of the spans (None: Serve's span files)."""

    @property
    def tracing(self) -> TracingSettings:
        """The tracing this runtime was started with."""
        return TracingSettings(sample=self.tracing_sample, otlp_endpoint=self.otlp_endpoint)


class ServedRecord(BaseModel):
    """The last desired state recorded to serve (`.raynomaly/served.json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    revision: int = Field(ge=1)
    recorded_at: datetime
    desired: DesiredState


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def read_runtime(settings: RuntimeSettings) -> RuntimeRecord | None:
    """The record of the running runtime, if any."""
    if not settings.state_path.exists():
        return None
    return RuntimeRecord.model_validate_json(settings.state_path.read_text())


def tracing_for_up(asked: TracingSettings | None, recorded: RuntimeRecord | None) -> TracingSettings:
    """The tracing `up` starts with (pure): as its flags ask, else as the runtime recorded here
    last was started (a runtime that stopped without `down`), else off."""
    if asked is not None:
        return asked
    return recorded.tracing if recorded is not None else TracingSettings()


def write_runtime(settings: RuntimeSettings, record: RuntimeRecord) -> None:
    _write(settings.state_path, record.model_dump_json(indent=2))


def read_served(settings: RuntimeSettings) -> ServedRecord | None:
    """The served state, if one was ever recorded."""
    if not settings.served_path.exists():
        return None
    return ServedRecord.model_validate_json(settings.served_path.read_text())


def served_revision(settings: RuntimeSettings) -> int:
    """The revision of the served state on disk, 0 if none; a record that no longer parses (an
    older format) counts as none, so that `up --reset` can still replace it."""
    try:
        return int(json.loads(settings.served_path.read_text())["revision"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return 0


def read_running(settings: RuntimeSettings) -> tuple[RuntimeRecord, DesiredState] | None:
    """The running runtime and the state it should serve, or None when `up` has not started one."""
    record, served = read_runtime(settings), read_served(settings)
    return (record, served.desired) if record is not None and served is not None else None


def record_served(settings: RuntimeSettings, desired: DesiredState, *, based_on: int) -> DesiredState:
    """Record `desired` as the revision after `based_on`, the revision its writer read (0: none was
    recorded); returns it with its new revision. Conflict when another writer recorded one since."""
    lock_path = settings.served_path.with_name(f"{settings.served_path.name}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(lock_path, timeout=LOCK_TIMEOUT_S):
            current = served_revision(settings)
            if current != based_on:
                raise Conflict(
                    f"the served state is at revision {current}, not {based_on} as read: another writer "
                    "changed it since; read it again ('raynomaly status') and retry"
                )
            revision = current + 1
            recorded = desired.model_copy(update={"revision": revision})
            record = ServedRecord(revision=revision, recorded_at=datetime.now(UTC), desired=recorded)
            _write(settings.served_path, record.model_dump_json(indent=2))
    except Timeout as e:
        raise TimeoutError(
            f"{lock_path} stayed locked by another writer for {LOCK_TIMEOUT_S:.0f} s; retry once it is done"
        ) from e
    return recorded
