"""The manifest of a model version: everything needed to serve, judge and audit it.

A manifest lists the sha256 of every artifact file (of its content, before any encryption) and
is sealed with the sha256 of its own canonical JSON, so an accidental edit to either is detected
when the version is loaded. The seal is no proof of origin (anyone can recompute it): that is the
signature's, an HMAC under a key of the keyring over the same canonical JSON (`models.signature`).
The manifest itself is never encrypted (it holds no secrets); it records which files are, and
under which key (`models.envelope`).
"""

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.distribution import ScoreDistribution
from models.errors import IntegrityError
from models.parity import ParityReport


class TrainingSummary(BaseModel):
    """Where the training data came from and what it looked like."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    source_sha256: str
    rows: int
    fit_rows: int
    holdout_rows: int
    split_seed: int
    feature_mean: list[float]
    feature_std: list[float]
    feature_min: list[float]
    feature_max: list[float]


class Signature(BaseModel):
    """An HMAC-SHA256 of the canonical manifest, by the key `key` of the keyring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    hmac: str


class Manifest(BaseModel):
    """One immutable model version (`<store>/<model>/<version>/manifest.json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    model: str
    version: int = Field(ge=0)
    detector: str
    backend: str
    artifact: str
    params: dict[str, Any]
    contamination: float
    threshold: float
    n_features: int
    feature_names: list[str]
    training: TrainingSummary
    reference: ScoreDistribution
    parity: ParityReport
    libraries: dict[str, str]
    created_at: datetime
    files: dict[str, str] = Field(default_factory=dict)
    """sha256 of every artifact file, by file name."""
    encrypted: dict[str, str] = Field(default_factory=dict)
    """The key id that encrypted each encrypted file, by file name (absent: stored in the clear)."""
    feature_bins: list[list[float]] | None = None
    """Per feature (in `feature_names` order) the inner edges of its training-quantile bins
    (`models.drift.feature_edges`); None on versions published before input drift was counted."""
    checksum: str = ""
    """sha256 of this manifest's canonical JSON."""
    signature: Signature | None = None
    """The keyed signature of the canonical JSON; None on versions published before signatures."""

    def canonical(self) -> bytes:
        """The JSON the seal and the signature cover: every field but themselves (pure). An empty
        `encrypted` and absent `feature_bins` are left out, so manifests written before they
        existed keep their seal."""
        body = self.model_dump(mode="json", exclude={"checksum", "signature"})
        if not body["encrypted"]:
            del body["encrypted"]
        if body["feature_bins"] is None:
            del body["feature_bins"]
        return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()

    def _digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    def sealed(self) -> "Manifest":
        """This manifest with its checksum filled in."""
        return self.model_copy(update={"checksum": self._digest()})

    def verify(self, where: str) -> "Manifest":
        """Self, if the checksum matches its content; IntegrityError naming `where` otherwise."""
        if self.checksum != self._digest():
            raise IntegrityError(
                f"{where}: checksum mismatch, the manifest was edited; republish the version"
            )
        return self

    def to_json(self) -> str:
        """Pretty JSON, as stored."""
        return self.model_dump_json(indent=2) + "\n"

    @property
    def ref(self) -> str:
        """`model:version`."""
        return f"{self.model}:{self.version}"
