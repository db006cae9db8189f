"""Does the GPU forest scorer reproduce the reference, and how many rows/s does it reach?

Two steps, because the GPU machine has CuPy but not this project's training stack:

    python benchmarks/gpu_check.py prepare DIR   # here: train, prepare the forest, reference scores
    python benchmarks/gpu_check.py run DIR OUT   # on the GPU: parity and rows/s -> OUT/gpu.json

`run` needs only NumPy and CuPy and imports the kernel module by path.
"""

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PARITY_ROWS = 65_536


def prepare(folder: Path) -> None:
    """Train a 100-tree IsolationForest on 10,000 x 20 rows; save its layout, queries, reference."""
    sys.path.insert(0, str(ROOT))
    from models import detectors
    from models.kernels import trees

    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(20, 20))
    train = rng.normal(size=(10_000, 20)) @ mixing
    queries = np.ascontiguousarray(rng.normal(size=(PARITY_ROWS, 20)) @ mixing * 1.3)
    detector = detectors.get("iforest")
    reference = detectors.fit(detector, train, {"random_state": 0}, 0.1)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "forest.npz", **trees.prepare(detector.extract(reference)))
    np.save(folder / "queries.npy", queries)
    np.save(folder / "reference.npy", reference.decision_function(queries))


def _rate(function, rows: int, repeats: int) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return rows * repeats / (time.perf_counter() - start)


def run(folder: Path, out: Path) -> None:
    """Parity against the reference at several batch sizes, then device and end-to-end rows/s."""
    import cupy

    spec = importlib.util.spec_from_file_location("cuda_trees", ROOT / "models/kernels/cuda_trees.py")
    cuda_trees = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cuda_trees)
    with np.load(folder / "forest.npz") as stored:
        params = {k: stored[k] for k in stored.files}
    queries, reference = np.load(folder / "queries.npy"), np.load(folder / "reference.npy")
    forest = cuda_trees.GpuForest(params)
    parity = {}
    for batch in (1, 64, 4096, PARITY_ROWS):
        starts = range(0, min(PARITY_ROWS, batch * 64), batch)
        got = np.concatenate([forest(queries[s : s + batch]) for s in starts])
        want = reference[: len(got)]
        parity[batch] = {"rows": len(got), "max_abs_diff": float(np.abs(got - want).max()),
                         "bit_identical": bool(np.array_equal(got, want))}  # fmt: skip
    big = np.ascontiguousarray(np.tile(queries, (16, 1)))  # 1,048,576 rows
    device_rows = cupy.asarray(np.ascontiguousarray(big.astype(np.float32).T))
    out_device = cupy.empty(len(big), dtype=cupy.float64)

    def kernel_only():
        args = (device_rows, np.int64(len(big)), forest._split_feature, forest._split, forest._leaf,
                np.int32(forest._split.shape[0]), np.int32(forest._depth), out_device)  # fmt: skip
        forest._kernel(((len(big) + 255) // 256,), (256,), args)
        cupy.cuda.Device().synchronize()

    rates = {"device_only_1048576": _rate(kernel_only, len(big), 20)}
    for batch, repeats in ((1, 2000), (64, 2000), (PARITY_ROWS, 50), (len(big), 10)):
        rows = big[:batch]
        rates[f"end_to_end_{batch}"] = _rate(lambda rows=rows: forest(rows), batch, repeats)
    document = {"device": cupy.cuda.runtime.getDeviceProperties(0)["name"].decode(),
                "cupy": cupy.__version__, "numpy": np.__version__, "trees": int(params["split"].shape[0]),
                "depth": int(params["depth"]), "features": int(queries.shape[1]), "parity": parity,
                "rows_per_s": rates}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        prepare(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["run"]:
        run(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
