"""The Open Inference Protocol's own clients (tritonclient's HTTP and gRPC, KServe's REST), driven from
the tests: each run is `drive.py` in `.venv-clients` (`make clients`), a subprocess, since the clients
need protobuf < 7 and kserve cannot share a process with tritonclient.grpc. Nothing here imports them."""

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENTS_PYTHON = ROOT / ".venv-clients" / "bin" / "python"
DRIVE = Path(__file__).with_name("drive.py")


def drive(
    client: str,
    url: str,
    calls: list[dict],
    headers: dict | None = None,
    ca: str | None = None,
    timeout: float = 120,
) -> list[dict]:
    """The result of each call, in order, made by `client` (triton-http, triton-grpc, kserve-rest) at
    `url`: `{"value": ...}` or `{"error": message, "status": HTTP status or gRPC status name, 0: none}`.
    `headers` go with every call; `ca` verifies the server's certificate (TLS). See drive.py for the calls.
    AssertionError when drive.py fails as a whole (a malformed call, a client it could not build)."""
    if not CLIENTS_PYTHON.exists():
        raise AssertionError(f"{CLIENTS_PYTHON} is missing: run `make clients` to create it")
    command = [str(CLIENTS_PYTHON), str(DRIVE), client, url, *(["--ca", ca] if ca else [])]
    document = json.dumps({"headers": headers or {}, "calls": calls})
    run = subprocess.run(command, input=document, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise AssertionError(f"{' '.join(command[1:])} exited with {run.returncode}:\n{run.stderr}")
    try:
        results = json.loads(run.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"{' '.join(command[1:])} printed no JSON:\n{run.stdout}\nstderr:\n{run.stderr}"
        ) from None
    if not isinstance(results, list) or len(results) != len(calls):
        raise AssertionError(f"{len(calls)} calls gave {results!r}\nstderr:\n{run.stderr}")
    return results
