"""The local target: a Ray cluster started by `raynomaly up`, driven through its dashboard's Serve
REST API, with the runtime's served state (`served.json`, `runtime.record`) as the desired state of
every model: each change is recorded there before it is applied."""

from controller.settings import ControllerSettings
from controller.targets.spec import DeployFailed, Served, TargetError, TargetRef
from models.errors import ModelError
from runtime import serving
from runtime.cluster import ensure_token
from runtime.desired import DesiredState, ScorerOptions
from runtime.record import RuntimeRecord, read_running
from runtime.serve_api import ServeApi, ServeApiError
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic

SETTLE_TIMEOUT_S = 120.0


class LocalTarget:
    name = "local"

    def __init__(self, settings: RuntimeSettings):
        self._settings = settings

    def _running(self) -> tuple[RuntimeRecord, DesiredState]:
        running = read_running(self._settings)
        if running is None:
            raise TargetError(
                f"no local runtime recorded in {self._settings.state_dir}; start it with 'raynomaly up'"
            )
        return running

    def _api(self, record: RuntimeRecord) -> ServeApi:
        return ServeApi(record.dashboard_url, ensure_token(self._settings.token_path))

    def served(self, model: str) -> Served:
        desired = self._running()[1]
        options = {v.version: v.options for v in desired.versions if v.model == model}
        return Served(desired.traffic.models.get(model), options)

    def apply(self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]) -> None:
        """Through `serving.stages`, waiting for each intermediate table to serve."""
        *intermediate, final = serving.stages(self._running()[1].traffic.models.get(model), traffic)
        for table in intermediate:
            record, desired = self._running()[0], self._put(model, table, options)
            self._wait(record, desired)
        self._put(model, final, options)

    def _wait(self, record: RuntimeRecord, desired: DesiredState) -> None:
        try:
            serving.wait_ready(self._api(record), record.http_url, desired, SETTLE_TIMEOUT_S)
        except (TimeoutError, ServeApiError) as e:
            raise TargetError(f"serving did not settle on the intermediate table: {e}") from e
        except serving.DeployFailed as e:
            raise DeployFailed(str(e)) from e

    def _put(
        self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]
    ) -> DesiredState:
        record, current = self._running()
        desired = serving.with_traffic(current, model, traffic, options)
        try:
            return serving.put(
                self._api(record),
                self._settings,
                desired,
                current,
                lambda through: self._wait(record, through),
            )
        except ServeApiError as e:
            raise TargetError(str(e)) from e
        except ModelError as e:  # a version missing, tampered with, or asking for absent GPUs
            raise DeployFailed(str(e)) from e

    def readiness(self, model: str) -> str | None:
        record, desired = self._running()
        try:
            return serving.readiness(self._api(record), record.http_url, desired)
        except ServeApiError as e:
            raise TargetError(str(e)) from e
        except serving.DeployFailed as e:
            raise DeployFailed(str(e)) from e


def build(ref: TargetRef, settings: ControllerSettings) -> LocalTarget:
    """The runtime `raynomaly up` started under the controller's state folder."""
    return LocalTarget(settings.runtime)
