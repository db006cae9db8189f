"""The local target: a Ray cluster started by `raynomaly up`, driven through its dashboard's Serve
REST API, with the runtime's record (`runtime.json`) kept as the desired state of every model."""

from controller.settings import ControllerSettings
from controller.targets.spec import DeployFailed, Served, TargetError, TargetRef
from models.errors import ModelError
from runtime import serving
from runtime.cluster import ensure_token
from runtime.desired import DesiredState, ScorerOptions
from runtime.serve_api import ServeApi, ServeApiError
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic

SETTLE_TIMEOUT_S = 120.0


class LocalTarget:
    name = "local"

    def __init__(self, settings: RuntimeSettings):
        self._settings = settings

    def _record(self) -> serving.RuntimeRecord:
        record = serving.read_record(self._settings)
        if record is None:
            raise TargetError(
                f"no local runtime recorded in {self._settings.state_dir}; start it with 'raynomaly up'"
            )
        return record

    def _api(self, record: serving.RuntimeRecord) -> ServeApi:
        return ServeApi(record.dashboard_url, ensure_token(self._settings.token_path))

    def served(self, model: str) -> Served:
        desired = self._record().desired
        options = {v.version: v.options for v in desired.versions if v.model == model}
        return Served(desired.traffic.models.get(model), options)

    def apply(self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]) -> None:
        """Through `serving.stages`, waiting for each intermediate table to serve."""
        *intermediate, final = serving.stages(self._record().desired.traffic.models.get(model), traffic)
        for table in intermediate:
            self._settle(model, table, options)
        self._put(model, final, options)

    def _settle(self, model: str, traffic: ModelTraffic, options: dict[int, ScorerOptions]) -> None:
        desired = self._put(model, traffic, options)
        record = self._record()
        try:
            serving.wait_ready(self._api(record), record.http_url, desired, SETTLE_TIMEOUT_S)
        except (TimeoutError, ServeApiError) as e:
            raise TargetError(f"serving did not settle on the intermediate table: {e}") from e
        except serving.DeployFailed as e:
            raise DeployFailed(str(e)) from e

    def _put(self, model: str, traffic: ModelTraffic | None, options: dict[int, ScorerOptions]):
        record = self._record()
        desired = serving.with_traffic(record.desired, model, traffic, options)
        api = self._api(record)

        def settle(through: DesiredState) -> None:
            serving.wait_ready(api, record.http_url, through, SETTLE_TIMEOUT_S)

        try:
            desired = serving.apply(api, desired, record.desired, settle)
        except (ServeApiError, TimeoutError) as e:
            raise TargetError(str(e)) from e
        except (ModelError, serving.DeployFailed) as e:  # a version missing, tampered with, no GPUs
            raise DeployFailed(str(e)) from e
        serving.write_record(self._settings, record.model_copy(update={"desired": desired}))
        return desired

    def readiness(self, model: str) -> str | None:
        record = self._record()
        try:
            return serving.readiness(self._api(record), record.http_url, record.desired)
        except ServeApiError as e:
            raise TargetError(str(e)) from e
        except serving.DeployFailed as e:
            raise DeployFailed(str(e)) from e


def build(ref: TargetRef, settings: ControllerSettings) -> LocalTarget:
    """The runtime `raynomaly up` started under the controller's state folder."""
    return LocalTarget(settings.runtime)
