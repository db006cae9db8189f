"""GPU scoring: which versions can score on a GPU, and the scorer, or a clear refusal.

A replica asked for a GPU scores on it or fails to start with the reason; it never falls back to
the CPU silently (it would hold a GPU and run at CPU speed). GPU paths exist where a kernel
pays off on large dynamic batches: complete-layout isolation forests today.
"""

from models.backends.numba import read_params
from models.backends.spec import ScoreFn
from models.errors import IntegrityError, ModelError
from models.manifest import Manifest

GPU_DETECTORS = frozenset({"iforest"})


class GpuUnavailable(ModelError):
    """A GPU scorer was asked for and cannot be had; the message says why and what to do."""

    exit_code = 2


def check_gpu_path(manifest: Manifest) -> None:
    """Refuse versions that have no GPU path (pure: reads only the manifest)."""
    if manifest.detector not in GPU_DETECTORS:
        raise GpuUnavailable(
            f"{manifest.ref}: {manifest.detector} has no GPU scorer (GPU paths: "
            f"{', '.join(sorted(GPU_DETECTORS))}); deploy it with num_gpus=0"
        )
    if manifest.backend != "numba":
        raise GpuUnavailable(
            f"{manifest.ref}: the GPU scorer reads the numba artifact; retrain with --backend numba "
            "or deploy with num_gpus=0"
        )


def gpu_scorer(manifest: Manifest, artifact: bytes, device: int = 0) -> ScoreFn:
    """The version's scorer on GPU `device`; GpuUnavailable naming the missing piece otherwise."""
    check_gpu_path(manifest)
    try:
        params = read_params(artifact)
    except IntegrityError as e:  # the reader names the file; the version is named here
        raise IntegrityError(f"{manifest.ref}: {e}") from e
    if "leaf" not in params:
        raise GpuUnavailable(
            f"{manifest.ref}: the forest is too deep for the GPU layout (max_samples above 4096); "
            "retrain with a smaller max_samples or deploy with num_gpus=0"
        )
    try:
        import cupy
    except ImportError as e:
        raise GpuUnavailable(
            "GPU scoring needs CuPy (pip install cupy-cuda12x or cupy-cuda13x, matching the CUDA "
            f"driver) on the replica's node: {e}"
        ) from e
    try:
        if cupy.cuda.runtime.getDeviceCount() <= device:
            raise GpuUnavailable(f"no GPU number {device} on this node; check num_gpus and the devices")
        from models.kernels.cuda_trees import GpuForest

        return GpuForest(params, device)
    except cupy.cuda.runtime.CUDARuntimeError as e:
        raise GpuUnavailable(f"the CUDA runtime refused: {e}; is an NVIDIA driver installed?") from e
