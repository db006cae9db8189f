"""`raynomaly down` ends its own cluster's processes and no other Ray of the machine."""

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from runtime import cluster
from runtime.processes import ProcessInfo, cluster_processes
from runtime.settings import Ports, RuntimeSettings

GCS = "/venv/lib/python3.11/site-packages/ray/core/src/ray/gcs/gcs_server"
RAYLET = "/venv/lib/python3.11/site-packages/ray/core/src/ray/raylet/raylet"
PYTHON = "/venv/bin/python"


def ray_cluster(pid: int, gcs_port: int, session: str) -> list[ProcessInfo]:
    """The processes of one Ray head as Ray 2.60 starts them (arguments abridged), pids from `pid`."""
    gcs_address = f"127.0.0.1:{gcs_port}"
    folder = f"/tmp/ray/{session}"
    return [
        ProcessInfo(pid, 1, (GCS, "--log_dir=x", f"--gcs_server_port={gcs_port}",
                                   f"--session-name={session}", f"--session-dir={folder}")),
        ProcessInfo(pid + 1, 1, (RAYLET, f"--session_dir={folder}", f"--gcs-address={gcs_address}")),
        ProcessInfo(pid + 2, 1, (PYTHON, "-u", "dashboard/dashboard.py", f"--session-dir={folder}")),
        ProcessInfo(pid + 3, 1, (PYTHON, "-u", "_private/log_monitor.py", f"--gcs-address={gcs_address}")),
        ProcessInfo(pid + 4, pid + 1, (PYTHON, "-u", "dashboard/agent.py", f"--session-dir={folder}")),
        ProcessInfo(pid + 5, pid + 1, ("ray::ServeController",)),  # workers rename themselves
        ProcessInfo(pid + 6, pid + 5, ("ray::ProxyActor",)),
    ]  # fmt: skip


RUNTIME = ray_cluster(100, 6379, "session_2026-11-30_10-00-00_000001_100")
OTHER_RUNTIME = ray_cluster(200, 36379, "session_2026-11-30_10-00-01_000002_200")
BATCH_JOB = ray_cluster(300, 55123, "session_2026-11-30_10-00-02_000003_300")  # ray.init: a random port
UNRELATED = [
    ProcessInfo(400, 1, ("/usr/bin/redis-server", "*:6379")),
    ProcessInfo(401, 1, (PYTHON, "notebook.py", "--port=6379")),
    ProcessInfo(402, 1, ()),  # another user's: its command line cannot be read
    ProcessInfo(403, 1, ("/usr/bin/vim", "--gcs_server_port=6379")),  # not a GCS server
]
MACHINE = RUNTIME + OTHER_RUNTIME + BATCH_JOB + UNRELATED


@pytest.mark.parametrize(
    ("gcs_port", "expected"),
    [
        pytest.param(6379, RUNTIME, id="this-runtime-only"),
        pytest.param(36379, OTHER_RUNTIME, id="another-runtime-on-other-ports"),
        pytest.param(55123, BATCH_JOB, id="a-private-batch-ray"),
        pytest.param(7000, [], id="nothing-runs-on-that-port"),
    ],
)
def test_a_cluster_is_its_gcs_server_session_and_their_descendants(gcs_port, expected):
    assert cluster_processes(MACHINE, gcs_port) == {p.pid for p in expected}


def test_a_daemon_whose_gcs_server_died_is_still_found_by_its_gcs_address():
    orphans = [p for p in RUNTIME if p.pid != 100]
    assert cluster_processes(orphans + OTHER_RUNTIME, 6379) == {101, 103, 104, 105, 106}


def fake_gcs_server(folder: Path, port: int) -> subprocess.Popen:
    """A process whose command line is a GCS server's on `port` (it only sleeps)."""
    name = folder / f"{port}" / "gcs_server"
    name.parent.mkdir()
    arguments = f"--gcs_server_port={port} --session-dir={folder}/{port}/session"
    return subprocess.Popen(
        ["bash", "-c", f'exec -a {name} {sys.executable} -c "import time; time.sleep(60)" {arguments}']
    )


def wait_for_command_lines(*started: subprocess.Popen) -> None:
    """Wait until the fake servers' command lines show (bash has exec'd them)."""
    deadline = time.monotonic() + 10
    # a process being exec'd shows an empty command line for a moment
    while not all((psutil.Process(p.pid).cmdline() or [""])[0].endswith("gcs_server") for p in started):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_stop_ends_this_clusters_processes_and_spares_another_ray(tmp_path):
    # ports no real cluster uses: the selection runs over this machine's real processes
    ours, theirs = fake_gcs_server(tmp_path, 1), fake_gcs_server(tmp_path, 2)
    try:
        wait_for_command_lines(ours, theirs)
        cluster.stop(RuntimeSettings(state_dir=tmp_path, ports=Ports(gcs=1)))
        assert ours.wait(timeout=15) is not None and theirs.poll() is None
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()


def test_down_stops_the_ray_that_up_recorded(tmp_path):
    from typer.testing import CliRunner

    from controller.cli import app
    from runtime.record import RuntimeRecord, write_runtime

    state = tmp_path / "state"
    record = RuntimeRecord(dashboard_url="http://127.0.0.1:1", http_url="http://127.0.0.1:1", grpc_port=1,
                           metrics_port=1, ingress="proxy", gcs_port=1)  # fmt: skip
    write_runtime(RuntimeSettings(state_dir=state), record)
    ours, theirs = fake_gcs_server(tmp_path, 1), fake_gcs_server(tmp_path, 2)
    try:
        wait_for_command_lines(ours, theirs)
        result = CliRunner().invoke(app, ["down"], env={"RAYNOMALY_HOME": str(state)}, catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        assert ours.wait(timeout=15) is not None and theirs.poll() is None
        assert not (state / "runtime.json").exists()
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
