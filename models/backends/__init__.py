"""Compiled-scorer backends: one module per backend, one registry, and the `auto` choice."""

from models.backends.numba import NumbaBackend
from models.backends.onnx import OnnxBackend
from models.backends.spec import Backend, ScoreFn
from models.errors import CompileError, InvalidSpec

BACKENDS: dict[str, Backend] = {"numba": NumbaBackend(), "onnx": OnnxBackend()}

# The fastest backend per detector on benchmarks/bench_scoring.py (results/scoring.json):
# Numba everywhere. Its complete-tree forest outruns ONNX Runtime's fused TreeEnsemble at every
# batch size, and elsewhere it is both the faster and the exact one.
PREFERRED: dict[str, str] = {
    "iforest": "numba",
    "ecod": "numba",
    "copod": "numba",
    "hbos": "numba",
    "knn": "numba",
    "lof": "numba",
    "pca": "numba",
    "ocsvm": "numba",
}

__all__ = ["BACKENDS", "PREFERRED", "Backend", "ScoreFn", "choose", "get"]


def get(name: str) -> Backend:
    """The backend registered under `name`; InvalidSpec listing the choices otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise InvalidSpec(f"unknown backend {name!r}; choose auto or one of {', '.join(BACKENDS)}") from None


def choose(detector: str, requested: str) -> Backend:
    """The backend for `detector`: `auto` takes the preferred one; an explicit one must support it."""
    backend = get(PREFERRED[detector] if requested == "auto" else requested)
    if not backend.supports(detector):
        able = [name for name, b in BACKENDS.items() if b.supports(detector)]
        raise CompileError(f"backend {backend.name} cannot compile {detector}; use one of {', '.join(able)}")
    return backend
