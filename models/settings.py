"""Settings of the model layer, parsed once at the edge (CLI flags, environment)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".raynomaly"
DEFAULT_STORE = ".raynomaly/models"


@dataclass(frozen=True)
class ModelSettings:
    """Where the model store lives (a local folder or any fsspec URI: s3://, gs://, memory://) and
    the keys folder that signs and decrypts its versions (`models.keys`)."""

    store: str = DEFAULT_STORE
    keys: Path = Path(DEFAULT_HOME) / "keys"

    @classmethod
    def resolve(
        cls, store: str | None = None, environ: Mapping[str, str] = os.environ, keys: Path | None = None
    ) -> "ModelSettings":
        """The store: `store` if given, else `RAYNOMALY_STORE`, else `./.raynomaly/models`. The keys:
        `keys` if given, else `RAYNOMALY_KEYS_DIR`, else `keys/` in `RAYNOMALY_HOME` (`./.raynomaly`)."""
        home = Path(environ.get("RAYNOMALY_HOME") or DEFAULT_HOME)
        keys = keys or Path(environ.get("RAYNOMALY_KEYS_DIR") or home / "keys")
        return cls(store=store or environ.get("RAYNOMALY_STORE") or DEFAULT_STORE, keys=keys)
