"""The revoked token ids, published as a file for the gateway (`runtime.access` reads it): the
control API refuses a revoked token at once, the gateway's replicas within a second of this file
changing."""

from pathlib import Path

from controller.store.spec import RolloutStore
from models.private import write_private


def publish(store: RolloutStore, path: Path) -> None:
    """Write every revoked token id to `path`, one per line (0600, replaced whole)."""
    write_private(path, "".join(f"{jti}\n" for jti in store.revoked_ids()))
