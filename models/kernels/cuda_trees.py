"""Isolation-forest scoring on an NVIDIA GPU: the complete-tree layout as a CuPy RawKernel.

One thread per row walks every tree branch-free (`index = 2 * index + 1 + (x > threshold)`)
and sums leaf values in tree order in float64, exactly as the CPU kernel and scikit-learn do;
rows go to the device as float32, feature-major so that neighbouring threads read neighbouring
memory. The final `2 ** -(depth / c)` runs on the host in NumPy, like the CPU path, so GPU
scores are bit-identical to the reference. Imports only NumPy and CuPy.
"""

import numpy as np

SOURCE = r"""
extern "C" __global__ void forest_depths(
    const float* __restrict__ rows, const long long n_rows,
    const int* __restrict__ split_feature, const float* __restrict__ split,
    const double* __restrict__ leaf, const int n_trees, const int depth,
    double* __restrict__ out)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_rows) return;
    const int inner = (1 << depth) - 1;
    double total = 0.0;
    for (int t = 0; t < n_trees; ++t) {
        const int* features = split_feature + (long long)t * inner;
        const float* thresholds = split + (long long)t * inner;
        int index = 0;
        for (int level = 0; level < depth; ++level) {
            const float x = rows[(long long)features[index] * n_rows + i];
            index = 2 * index + 1 + (x > thresholds[index]);
        }
        total += leaf[(long long)t * (inner + 1) + index - inner];
    }
    out[i] = total;
}
"""
_THREADS = 256


class GpuForest:
    """A complete-layout forest (see `models.kernels.trees.prepare`) resident on one GPU."""

    def __init__(self, params: dict, device: int = 0):
        import cupy

        self._cupy = cupy
        self.device = cupy.cuda.Device(device)
        with self.device:
            self._kernel = cupy.RawKernel(SOURCE, "forest_depths", options=("--fmad=false",))
            self._split_feature = cupy.asarray(params["split_feature"], dtype=cupy.int32)
            self._split = cupy.asarray(params["split"], dtype=cupy.float32)
            self._leaf = cupy.asarray(params["leaf"], dtype=cupy.float64)
        self._depth = int(params["depth"])
        self._denominator = params["denominator"]
        self._offset = params["offset"]

    def depths(self, X: np.ndarray) -> np.ndarray:
        """Summed leaf values of float64 rows `X`, computed on the device."""
        cupy = self._cupy
        with self.device:
            rows = cupy.asarray(np.ascontiguousarray(X.astype(np.float32).T))
            out = cupy.empty(X.shape[0], dtype=cupy.float64)
            blocks = (X.shape[0] + _THREADS - 1) // _THREADS
            args = (rows, np.int64(X.shape[0]), self._split_feature, self._split, self._leaf,
                    np.int32(self._split.shape[0]), np.int32(self._depth), out)  # fmt: skip
            self._kernel((max(blocks, 1),), (_THREADS,), args)
            return cupy.asnumpy(out)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """PyOD IForest scores of float64 rows `X`."""
        if X.shape[0] == 0:
            return np.empty(0)
        return 2 ** (-(self.depths(X) / self._denominator)) + self._offset
