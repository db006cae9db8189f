"""The GitHub workflows: valid against GitHub's workflow schema (SchemaStore's, as vendored by
check-jsonschema), and doing what CI and promotion must do."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
SHA = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


def load(name: str) -> dict:
    """A workflow as data (YAML 1.2: `on` stays a string key)."""
    return YAML(typ="safe", pure=True).load((WORKFLOWS / name).read_text())


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )


def steps(workflow: dict, job: str | None = None) -> list[dict]:
    """Every step of every job (or of one job), in order."""
    jobs = workflow["jobs"] if job is None else {job: workflow["jobs"][job]}
    return [step for spec in jobs.values() for step in spec.get("steps", [])]


def scripts(workflow: dict, job: str | None = None) -> list[str]:
    return [step["run"] for step in steps(workflow, job) if "run" in step]


def make_prerequisites(target: str) -> list[str]:
    """The prerequisites of a Makefile target, as written on its rule line."""
    line = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith(f"{target}:")
    )
    return line.split(":", 1)[1].split()


def pinned(uses: str) -> bool:
    """Whether a `uses:` names an exact revision: a local action, a full commit SHA or an image digest."""
    return uses.startswith("./") or bool(SHA.match(uses)) or "@sha256:" in uses


def test_both_workflows_exist():
    assert {p.name for p in FILES} >= {"ci.yml", "promote.yml"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_workflow_validates_against_the_github_workflow_schema(path):
    checked = validate(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_refuses_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    steps: make test\n")
    checked = validate(broken)
    assert checked.returncode == 1 and "broken.yml" in checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("uses", "expected"),
    [
        pytest.param("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", True, id="full-sha"),
        pytest.param("actions/checkout@v7", False, id="moving-tag"),
        pytest.param("actions/checkout@v7.0.1", False, id="version-tag"),
        pytest.param("actions/checkout@3d3c42e", False, id="short-sha"),
        pytest.param("actions/checkout@main", False, id="branch"),
        pytest.param("./.github/actions/setup", True, id="local-action"),
        pytest.param("docker://alpine@sha256:" + "a" * 64, True, id="image-digest"),
    ],
)
def test_what_counts_as_pinned(uses, expected):
    assert pinned(uses) is expected


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_action_is_pinned_to_a_commit_with_its_version_named(path):
    lines = [line.strip() for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert lines
    for line in lines:
        uses = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        assert pinned(uses), f"{path.name}: {uses} is not pinned to a full commit SHA"
        assert uses.startswith("./") or re.search(r"#\s*v\d", line), (
            f"{path.name}: name the version of {uses}"
        )


def test_ci_runs_on_push_and_pull_request_to_main():
    triggers = load("ci.yml")["on"]
    assert set(triggers) == {"push", "pull_request"}
    assert all(triggers[event]["branches"] == ["main"] for event in triggers)


def test_ci_lints_and_runs_make_test_after_installing_the_system_packages_as_root():
    ci = load("ci.yml")
    assert "make lint" in scripts(ci, "lint")
    test_job = scripts(ci, "test")
    assert test_job.index("sudo make system") < test_job.index("make test")
    assert "system" in make_prerequisites("test")


def test_ci_runs_every_gate_of_make_gates_in_a_job_of_its_own():
    gates = make_prerequisites("gates")
    assert gates and "gates" not in make_prerequisites("test")
    gate_job = scripts(load("ci.yml"), "gates")
    commands = [line.split()[:2] for line in gate_job]
    assert ["make", "gates"] in commands or all(["make", gate] in commands for gate in gates), gate_job


def test_ci_uses_python_3_11_with_a_pip_cache_and_reads_no_more_than_the_code():
    ci = load("ci.yml")
    assert ci["permissions"] == {"contents": "read"}
    setups = [s for s in steps(ci) if s.get("uses", "").startswith("actions/setup-python@")]
    assert len(setups) == len(ci["jobs"])
    assert all(s["with"]["python-version"] == "3.11" and s["with"]["cache"] == "pip" for s in setups)


def test_promote_is_dispatched_by_hand_with_model_version_environment_reason_and_ticket():
    triggers = load("promote.yml")["on"]
    assert set(triggers) == {"workflow_dispatch"}
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"model", "version", "environment", "reason", "ticket"}
    assert all(spec["required"] for spec in inputs.values())
    assert inputs["environment"]["type"] == "choice"
    assert inputs["environment"]["options"] == ["staging", "production"]


def test_promote_runs_raynomaly_promote_in_the_chosen_github_environment():
    promote = load("promote.yml")
    (job,) = promote["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    (command,) = [line for s in scripts(promote) for line in s.splitlines() if "raynomaly promote" in line]
    assert re.search(r'raynomaly promote "\$MODEL" "\$VERSION" --to "\$TARGET"', command)
    assert "--reason" in command and "--ticket" in command


def test_promote_takes_the_deployer_token_from_secrets_and_never_prints_it():
    promote = load("promote.yml")
    (step,) = [s for s in steps(promote) if "raynomaly promote" in s.get("run", "")]
    assert step["env"]["RAYNOMALY_TOKEN"] == "${{ secrets.RAYNOMALY_DEPLOYER_TOKEN }}"
    assert step["env"]["RAYNOMALY_CONTROLLER_URL"].startswith(("${{ vars.", "${{ secrets."))
    for script in scripts(promote):
        assert "${{" not in script, "inputs and secrets reach scripts through env, never spliced in"
        assert not re.search(r"(echo|printf)[^\n]*\$\{?RAYNOMALY_TOKEN", script)
        assert "set -x" not in script


def test_promote_has_least_permissions():
    promote = load("promote.yml")
    assert promote["permissions"] == {"contents": "read"}
    assert all(
        job.get("permissions", {"contents": "read"}) == {"contents": "read"}
        for job in promote["jobs"].values()
    )
