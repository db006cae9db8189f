"""What a local runtime records under its state folder.

- `runtime.json`: the runtime that runs (its endpoints); written by `up`, removed by `down`.
- `served.json`: the served state, the one source of truth of what should serve: every desired
  state is recorded here, with the next revision, *before* it is applied, and it outlives `down`,
  a crash or a reboot, so that `up` restores it instead of promoting whatever was published last.
  The revision travels to the gateway, whose `/api/v1/traffic` says which one it serves.

Both are written atomically (a temporary file, flushed to disk, renamed over the old one).
"""

import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from runtime.desired import DesiredState
from runtime.settings import RuntimeSettings


class RuntimeRecord(BaseModel):
    """What `raynomaly up` started (`.raynomaly/runtime.json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dashboard_url: str
    http_url: str
    grpc_port: int
    metrics_port: int
    ingress: str


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


def write_runtime(settings: RuntimeSettings, record: RuntimeRecord) -> None:
    _write(settings.state_path, record.model_dump_json(indent=2))


def read_served(settings: RuntimeSettings) -> ServedRecord | None:
    """The served state, if one was ever recorded."""
    if not settings.served_path.exists():
        return None
    return ServedRecord.model_validate_json(settings.served_path.read_text())


def read_running(settings: RuntimeSettings) -> tuple[RuntimeRecord, DesiredState] | None:
    """The running runtime and the state it should serve, or None when `up` has not started one."""
    record, served = read_runtime(settings), read_served(settings)
    return (record, served.desired) if record is not None and served is not None else None


def record_served(settings: RuntimeSettings, desired: DesiredState) -> DesiredState:
    """Record `desired` as the next revision of the served state; returns it with that revision."""
    previous = read_served(settings)
    revision = (previous.revision if previous else 0) + 1
    recorded = desired.model_copy(update={"revision": revision})
    record = ServedRecord(revision=revision, recorded_at=datetime.now(UTC), desired=recorded)
    _write(settings.served_path, record.model_dump_json(indent=2))
    return recorded
