"""Where a rollout stands: its phase (and which phases are final), and the windows of its current
step that were not Successful. Kept apart from the spec so the strategies, which the spec names,
can read and write them."""

import enum

from pydantic import BaseModel, ConfigDict


class Phase(enum.StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    PROMOTING = "Promoting"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"


TERMINAL = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED})


class Counts(BaseModel):
    """Windows judged at the current step that were not Successful."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    failed: int = 0
    inconclusive: int = 0
    error: int = 0
