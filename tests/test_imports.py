"""What importing a module loads, checked in a fresh interpreter.

The model store, manifests and the runtime's records are all that light commands (`raynomaly models
list`) import, and the batch scoring path is what every scorer process imports before its first
batch: none of them may load the heavy libraries. Numba and ONNX Runtime load when a model that
needs one is loaded, not before.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "matplotlib", "ray", "sklearn", "onnxruntime")
SCORING_PATH = (*HEAVY, "numba", "pandas", "kubernetes", "rich")


def loaded(module: str, packages: tuple[str, ...]) -> list[str]:
    """Which of `packages` (or their submodules) `import module` loads, in a fresh interpreter."""
    probe = (
        f"import json, sys, {module}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(packages)!r})))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


@pytest.mark.parametrize(
    ("module", "packages"),
    [
        pytest.param("models.store", HEAVY, id="models.store"),
        pytest.param("models.manifest", HEAVY, id="models.manifest"),
        pytest.param("runtime.settings", HEAVY, id="runtime.settings"),
        pytest.param("runtime.record", HEAVY, id="runtime.record"),
        pytest.param("runtime.batch.process", SCORING_PATH, id="runtime.batch.process"),
        pytest.param("runtime.batch.scorer", SCORING_PATH, id="runtime.batch.scorer"),
    ],
)
def test_light_modules_load_no_heavy_library(module, packages):
    assert loaded(module, packages) == []


def test_the_probe_sees_what_a_module_loads_indirectly():
    assert loaded("models.detectors", SCORING_PATH) == ["numba", "scipy"]  # Numba imports SciPy
