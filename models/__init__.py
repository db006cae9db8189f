"""raynomaly models: detectors, compilation to ONNX/Numba with proven parity, the model store.

import models
model = models.load("fraud")            # latest version, checksums and signature verified
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


def __getattr__(name: str):
    """`CompiledModel` and `load` on first use: importing `models.errors` or the store (as the
    command line does) then loads no scorer, NumPy or Arrow."""
    if name in ("CompiledModel", "load"):
        from models import scorer

        return getattr(scorer, name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")


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
