"""The processes of one local Ray cluster, told apart from every other Ray on the machine.

`ray stop` ends every Ray process of the user (another runtime on other ports, a batch job's
private Ray, a notebook's). A cluster is instead known by its GCS server, started with
`--gcs_server_port=<port>` and `--session-dir=<session>`: its other daemons carry that session
folder or the GCS address on their command lines, and its workers, which rename themselves
`ray::...`, are their descendants.
"""

import contextlib
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import psutil


class ProcessInfo(NamedTuple):
    """What the selection reads of a running process."""

    pid: int
    ppid: int
    cmdline: tuple[str, ...]


SESSION_FLAGS = ("--session-dir=", "--session_dir=")
GCS_ADDRESS_FLAGS = ("--gcs-address=", "--gcs_address=")


def _is_gcs_server(process: ProcessInfo, port: int) -> bool:
    command = process.cmdline
    return bool(command) and Path(command[0]).name == "gcs_server" and f"--gcs_server_port={port}" in command


def cluster_processes(processes: Iterable[ProcessInfo], gcs_port: int) -> set[int]:
    """PIDs of the Ray cluster whose GCS server was started on `gcs_port` (pure): the GCS server, the
    processes started with its session folder or its GCS address, and all their descendants."""
    processes = list(processes)
    servers = [p for p in processes if _is_gcs_server(p, gcs_port)]
    sessions = {a.split("=", 1)[1] for p in servers for a in p.cmdline if a.startswith(SESSION_FLAGS)}
    owned = {f"{flag}{session}" for flag in SESSION_FLAGS for session in sessions}

    def member(process: ProcessInfo) -> bool:
        return bool(owned.intersection(process.cmdline)) or any(
            a.startswith(GCS_ADDRESS_FLAGS) and a.endswith(f":{gcs_port}") for a in process.cmdline
        )

    selected = {p.pid for p in servers} | {p.pid for p in processes if member(p)}
    children: dict[int, list[int]] = {}
    for p in processes:
        children.setdefault(p.ppid, []).append(p.pid)
    pending = list(selected)
    while pending:  # descendants: workers and agents the raylet forked
        for child in children.get(pending.pop(), []):
            if child not in selected:
                selected.add(child)
                pending.append(child)
    return selected


def running() -> list[ProcessInfo]:
    """The processes of this machine that can be read (others' command lines read as empty)."""
    found = []
    for process in psutil.process_iter(["pid", "ppid", "cmdline"]):
        info = process.info
        found.append(ProcessInfo(info["pid"], info["ppid"] or 0, tuple(info["cmdline"] or ())))
    return found


def end(pids: Iterable[int], grace_s: float = 10.0) -> None:
    """Ask the processes to stop (SIGTERM), then kill those still running after `grace_s`."""
    asked = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):  # exited meanwhile, or not ours to signal
            process = psutil.Process(pid)
            process.send_signal(signal.SIGTERM)
            asked.append(process)
    _, alive = psutil.wait_procs(asked, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
