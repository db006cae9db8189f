"""Settings of the model layer, parsed once at the edge (CLI flags, environment)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_STORE = ".raynomaly/models"


@dataclass(frozen=True)
class ModelSettings:
    """Where the model store lives: a local folder or any fsspec URI (s3://, gs://, memory://)."""

    store: str = DEFAULT_STORE

    @classmethod
    def resolve(cls, store: str | None = None, environ: Mapping[str, str] = os.environ) -> "ModelSettings":
        """`store` if given, else `RAYNOMALY_STORE`, else `./.raynomaly/models`."""
        return cls(store=store or environ.get("RAYNOMALY_STORE") or DEFAULT_STORE)
