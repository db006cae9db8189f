"""Numba backend: the (prepared) parameters are the artifact (`params.npz`); kernels score them."""

import importlib
import io
import zipfile
from collections.abc import Callable
from functools import partial

import numpy as np

from models.backends.spec import Params, ScoreFn
from models.errors import IntegrityError

# `module.function` in models.kernels, imported on first use: importing Numba takes ~0.15 s, paid
# only by a process that compiles or scores with this backend (a store listing or an ONNX scorer never).
KERNELS = {
    "iforest": "trees.score",
    "ecod": "ecdf.score",
    "copod": "ecdf.score",
    "hbos": "histogram.score",
    "knn": "neighbors.score_knn",
    "lof": "neighbors.score_lof",
    "pca": "linear.score_pca",
    "ocsvm": "linear.score_ocsvm",
}


# Layouts that suit a kernel better than the extracted parameters, computed at compile time.
PREPARE = {"iforest": "trees.prepare", "knn": "neighbors.prepare", "lof": "neighbors.prepare"}


def kernel(path: str) -> Callable:
    """The function `module.function` of `models.kernels` (imports its module)."""
    module, function = path.split(".")
    return getattr(importlib.import_module(f"models.kernels.{module}"), function)


class NumbaBackend:
    """Single-threaded Numba kernels (KNN/LOF screen with one BLAS product) over the parameters."""

    name = "numba"
    artifact = "params.npz"

    def supports(self, detector: str) -> bool:
        """Every registered detector has a Numba kernel."""
        return detector in KERNELS

    def compile(self, detector: str, params: Params, n_features: int) -> bytes:
        """The (prepared) parameters as an uncompressed `.npz` (fast to load, no pickles)."""
        buffer = io.BytesIO()
        prepare = kernel(PREPARE[detector]) if detector in PREPARE else dict
        np.savez(buffer, **prepare(params))
        return buffer.getvalue()

    def load(self, detector: str, artifact: bytes) -> ScoreFn:
        """The detector's kernel bound to the stored parameters."""
        return partial(kernel(KERNELS[detector]), read_params(artifact))


def read_params(artifact: bytes) -> dict[str, np.ndarray]:
    """The arrays of a `params.npz` artifact; IntegrityError if it is no NumPy archive of plain arrays
    (pickled objects could run code when loaded: they are refused, never unpickled)."""
    try:
        stored = np.load(io.BytesIO(artifact), allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):  # a bare .npy array
            raise OSError("a single array, not an archive")
        with stored:
            return {name: stored[name] for name in stored.files}
    except ValueError as e:  # NumPy's refusal of object arrays, which only a pickle can hold
        raise IntegrityError(
            "params.npz holds pickled Python objects, which are never loaded; republish the version "
            "with 'raynomaly models train'"
        ) from e
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise IntegrityError(
            f"params.npz is not a NumPy archive of arrays ({e}); republish the version"
        ) from e
