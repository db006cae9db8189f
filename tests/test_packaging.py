"""The wheel: built from the source tree, it carries the kustomize base and the locustfile, and once
installed it renders the manifests and finds the locustfile in its own copy, not in a checkout."""

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from controller.kuberay import manifests

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
# A build writes build/ and *.egg-info into its source: it builds a copy, without local state.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".venv-clients", ".raynomaly", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
PROBE = """
import json, controller
from importlib import resources
from controller.kuberay import manifests
from controller.loadtest.gate import LOCUSTFILE
with resources.as_file(LOCUSTFILE) as locustfile:
    found = locustfile.is_file() and "RAYNOMALY_GATE_REPORT" in locustfile.read_text()
print(json.dumps({"package": controller.__file__, "base": str(manifests.BASE), "locustfile": found,
                  "objects": manifests.render(namespace="serving")}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "raynomaly"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_COPIED)
    built = tmp_path_factory.mktemp("wheel")
    command = [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", built]
    subprocess.run([*command, source], check=True, capture_output=True)
    return next(built.glob("raynomaly-*.whl"))


def test_the_wheel_carries_the_manifests_and_the_locustfile(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        files = (ROOT / "kuberay").iterdir()
        base = {p.name: p.read_bytes() for p in files if p.suffix in (".yaml", ".json")}
        assert {"kustomization.yaml", "rayservice.yaml", "grafana-dashboard.json"} <= set(base)
        for name, content in base.items():
            assert archive.read(f"controller/kuberay/base/{name}") == content
    assert "controller/loadtest/locustfile.py" in names


def test_an_installed_wheel_renders_from_its_own_copy(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    install = [*PIP, "--python", python, "install", "--no-deps", "--no-index", "-q", wheel]
    subprocess.run(install, check=True, capture_output=True)
    # The dependencies come from this environment as a path entry, whose .pth files (a checkout's
    # editable finder) are not run; written after the install, so pip sees no raynomaly there.
    paths = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           check=True, capture_output=True, text=True)  # fmt: skip
    (Path(paths.stdout.strip()) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run([python, "-c", PROBE], cwd=cwd, env=environ, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert Path(found["package"]).is_relative_to(venv) and Path(found["base"]).is_relative_to(venv)
    assert found["locustfile"] is True
    assert found["objects"] == json.loads(json.dumps(manifests.render(namespace="serving")))
