"""The package layering, read from the source: `models` <- `runtime` <- `controller`, the command line
only in `controller/cli/`, and the command line quick to start (it loads no heavy library at import)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "runtime", "controller")


def imports() -> dict[str, set[str]]:
    """Every module of the packages -> the top-level names and modules it imports, anywhere in it."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            names = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module)
            found[path.relative_to(ROOT).as_posix()] = names
    return found


def offenders(prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in imports().items()
        if module.startswith(prefix)
        for name in names
        if any(name == f or name.startswith(f"{f}.") for f in forbidden)
    )


@pytest.mark.parametrize(
    ("prefix", "forbidden"),
    [
        pytest.param(
            "models/", ("runtime", "controller"), id="models-imports-neither-runtime-nor-controller"
        ),
        pytest.param("runtime/", ("controller",), id="runtime-imports-nothing-from-controller"),
        pytest.param("controller/analysis/", ("controller.rollouts",), id="analysis-knows-no-rollout"),
        pytest.param("controller/targets/", ("controller.rollouts",), id="targets-know-no-rollout"),
    ],
)
def test_lower_layers_do_not_import_higher_ones(prefix, forbidden):
    assert offenders(prefix, forbidden) == []


def test_only_the_command_line_imports_typer():
    users = sorted(m for m, names in imports().items() if any(n.split(".")[0] == "typer" for n in names))
    assert users and all(m.startswith("controller/cli/") for m in users), users


def test_the_layering_check_sees_a_violation(tmp_path, monkeypatch):
    """The check reads real imports: a module of `models` importing `runtime` inside a function is found."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad.py").write_text("def f():\n    from runtime import serving\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert offenders("models/", ("runtime",)) == ["models/bad.py imports runtime"]


HEAVY = ("ray", "scipy", "matplotlib", "kubernetes", "sklearn", "onnxruntime", "numba", "locust", "pandas")


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("import controller.cli", id="the-command-line"),
        pytest.param("import models.store, models.manifest", id="the-model-store"),
    ],
)
def test_starting_loads_no_heavy_library(statement):
    probe = f"{statement}; import sys; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)}))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
