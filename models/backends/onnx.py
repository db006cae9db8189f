"""ONNX Runtime backend: detectors with a fast graph (see `graphs`) become `model.onnx`."""

import numpy as np

from models.backends.spec import Params, ScoreFn
from models.errors import IntegrityError

SUPPORTED = frozenset({"iforest", "pca"})


def _session(artifact: bytes):
    """An ONNX Runtime session over the graph (imported here: only processes that score ONNX pay for it)."""
    import onnxruntime
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

    options = onnxruntime.SessionOptions()
    # one thread per replica: ORT, Numba and BLAS pools spin and fight on small machines
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(artifact, options, providers=["CPUExecutionProvider"])
    except (InvalidProtobuf, InvalidGraph, Fail) as e:
        raise IntegrityError(f"model.onnx is not a loadable ONNX graph ({e}); republish the version") from e


class OnnxBackend:
    """ONNX graphs run by ONNX Runtime's CPU provider, one thread, no spinning."""

    name = "onnx"
    artifact = "model.onnx"

    def supports(self, detector: str) -> bool:
        """IsolationForest (fused TreeEnsemble) and PCA (standard ops) have graphs."""
        return detector in SUPPORTED

    def compile(self, detector: str, params: Params, n_features: int) -> bytes:
        """The detector's graph, checked by the ONNX checker, serialised."""
        from models.backends.graphs import GRAPHS  # the onnx package is needed only to build

        return GRAPHS[detector](params, n_features).SerializeToString()

    def load(self, detector: str, artifact: bytes) -> ScoreFn:
        """An inference session over the graph; input `X` float64 (rows, features)."""
        session = _session(artifact)

        def score(X: np.ndarray) -> np.ndarray:
            return session.run(["score"], {"X": X})[0]

        return score
