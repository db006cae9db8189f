"""The local target: a Ray cluster started by `raynomaly up`, driven through its dashboard's Serve
REST API, with the runtime's served state (`served.json`, `runtime.record`) as the desired state of
every model: each change is recorded there, guarded by the revision it was based on, before it is
applied."""

from dataclasses import replace
from pathlib import Path

import httpx

from controller.settings import ControllerSettings
from controller.targets.spec import Served, TargetError, TargetRef
from models.errors import ModelError
from runtime import serving
from runtime.cluster import ensure_token
from runtime.desired import DesiredState, ScorerOptions
from runtime.record import RuntimeRecord, read_running
from runtime.serve_api import ServeApi, ServeApiError
from runtime.serving import DeployFailed
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic

SETTLE_TIMEOUT_S = 120.0


class LocalTarget:
    """The runtime recorded under `settings`; its dashboard and gateway are reached through
    `transport` (default: the network), the one seam a test replaces."""

    name = "local"

    def __init__(
        self,
        settings: RuntimeSettings,
        transport: httpx.BaseTransport | None = None,
        settle_timeout_s: float = SETTLE_TIMEOUT_S,
    ):
        self._settings, self._transport, self._settle_timeout_s = settings, transport, settle_timeout_s

    def _running(self) -> tuple[RuntimeRecord, DesiredState]:
        running = read_running(self._settings)
        if running is None:
            raise TargetError(
                f"no local runtime recorded in {self._settings.state_dir}; start it with 'raynomaly up'"
            )
        return running

    def _api(self, record: RuntimeRecord) -> ServeApi:
        return ServeApi(record.dashboard_url, ensure_token(self._settings.token_path), self._transport)

    def served(self, model: str) -> Served:
        desired = self._running()[1]
        options = {v.version: v.options for v in desired.versions if v.model == model}
        return Served(desired.traffic.models.get(model), options)

    def apply(self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]) -> None:
        """Through `serving.put_staged`, waiting for each intermediate table to serve; not for the
        last one (the controller polls `readiness`). Conflict if the served state changed meanwhile."""
        record, current = self._running()
        api = self._api(record)

        def settle(desired: DesiredState) -> None:
            try:
                serving.wait_ready(
                    api, record.http_url, desired, self._settle_timeout_s, transport=self._transport
                )
            except (TimeoutError, ServeApiError) as e:
                raise TargetError(f"serving did not settle on the intermediate table: {e}") from e

        try:
            serving.put_staged(api, self._settings, current, model, traffic, options, settle=settle)
        except ServeApiError as e:
            raise TargetError(str(e)) from e
        except ModelError as e:  # a version missing, tampered with, or asking for absent GPUs
            raise DeployFailed(str(e)) from e

    def readiness(self, model: str) -> str | None:
        record, desired = self._running()
        try:
            return serving.readiness(self._api(record), record.http_url, desired, transport=self._transport)
        except ServeApiError as e:
            raise TargetError(str(e)) from e


def build(ref: TargetRef, settings: ControllerSettings) -> LocalTarget:
    """The runtime `raynomaly up` started under the controller's state folder, or under `ref.home`."""
    return LocalTarget(home_settings(ref, settings.runtime))


def home_settings(ref: TargetRef, settings: RuntimeSettings) -> RuntimeSettings:
    """The settings of the runtime `ref` names: another local runtime's state folder where it has one."""
    return settings if ref.home is None else replace(settings, state_dir=Path(ref.home))
