"""Where a version is scored, as the gateway sees it: inline (in the gateway replica itself) or
dedicated (its own Serve application, through a deployment handle). One registry, `PLACEMENTS`.

A placement turns a deployed version into a ready `VersionScorer`. The gateway does this inside
`reconfigure()` before the new traffic table takes effect, so no request is ever routed to a
version that is still loading: an inline version is read from the store (checksums verified)
and compiled; a dedicated one is asked to describe itself, which waits until its application
runs.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import numpy as np
from ray.exceptions import RayActorError

from runtime.desired import DEDICATED, INLINE, DeployedVersion
from runtime.metrics import ScorerMetrics
from runtime.version import Description, LocalScorer, load_version

DEDICATED_READY_TIMEOUT_S = 120.0
RETRY_S = 0.5


class VersionScorer(Protocol):
    description: Description

    async def score(self, rows: np.ndarray, role: str) -> tuple[np.ndarray, np.ndarray]:
        """Scores and labels of validated rows, recorded under `role`."""


class Unavailable(Exception):
    """A version could not be made ready (unreadable store, failed checksum, application down)."""


class RemoteScorer:
    """A dedicated version, reached through its application's deployment handle. A request whose
    replica died before answering is sent once more (scoring is idempotent): Serve routes it to
    another replica, or to the replacement of the only one."""

    def __init__(self, handle, description: Description):
        self._handle, self.description = handle, description

    async def score(self, rows: np.ndarray, role: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            return await self._handle.score.remote(rows, role)
        except RayActorError:
            return await self._handle.score.remote(rows, role)


class Context(Protocol):
    """What placing a version needs from the gateway replica."""

    metrics: ScorerMetrics

    def handle(self, app: str):
        """The deployment handle of a Serve application."""


async def inline(version: DeployedVersion, store: str, context: Context) -> LocalScorer:
    """Load the version here (in a thread: the replica keeps answering meanwhile)."""
    try:
        loaded = await asyncio.to_thread(load_version, store, version.model, version.version)
    except Exception as e:  # any failure to load keeps the old table serving; the reason is reported
        raise Unavailable(f"{version.model}:{version.version} cannot be loaded inline: {e}") from e
    options = version.options
    return LocalScorer(loaded, context.metrics, options.effective_batching, options.input_drift)


async def dedicated(version: DeployedVersion, store: str, context: Context) -> RemoteScorer:
    """A handle to the version's application, once it answers. The application may be created by
    the same config change that reconfigures the gateway, so it is waited for."""
    deadline = time.monotonic() + DEDICATED_READY_TIMEOUT_S
    while True:
        try:
            handle = context.handle(version.app_name)
            description = await asyncio.wait_for(handle.describe.remote(), deadline - time.monotonic())
            return RemoteScorer(handle, description)
        except Exception as e:  # not created yet, failed to start, or not running in time
            if time.monotonic() + RETRY_S >= deadline:
                raise Unavailable(
                    f"{version.app_name} (dedicated) is not answering: {type(e).__name__}: {e}"
                ) from e
        await asyncio.sleep(RETRY_S)


Place = Callable[[DeployedVersion, str, Context], Awaitable[VersionScorer]]
PLACEMENTS: dict[str, Place] = {INLINE: inline, DEDICATED: dedicated}
