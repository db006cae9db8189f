"""The manifest of a model version: everything needed to serve, judge and audit it.

A manifest is sealed with the sha256 of its own canonical JSON (without the seal) and lists the
sha256 of every artifact file, so an edit to either is detected when the version is loaded.
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
    checksum: str = ""
    """sha256 of this manifest's canonical JSON without this field."""

    def _digest(self) -> str:
        body = self.model_dump(mode="json", exclude={"checksum"})
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

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
