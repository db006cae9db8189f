"""raynomaly models: detectors, compilation to ONNX/Numba with proven parity, the model store.

import models
model = models.load("fraud")            # latest version, checksums verified
scores = model.decision_function(X)     # higher = more anomalous
labels = model.predict(X)               # 1 = anomaly
"""

from models.errors import (
    CompileError,
    IntegrityError,
    InvalidInput,
    InvalidSpec,
    ModelError,
    ModelNotFound,
    ParityFailed,
)
from models.scorer import CompiledModel, load

__all__ = [
    "CompiledModel",
    "CompileError",
    "IntegrityError",
    "InvalidInput",
    "InvalidSpec",
    "ModelError",
    "ModelNotFound",
    "ParityFailed",
    "load",
]
