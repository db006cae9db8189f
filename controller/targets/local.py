"""The local target: a Ray cluster started by `raynomaly up`, driven through its dashboard's Serve
REST API, with the runtime's record (`runtime.json`) kept as the desired state of every model."""

from controller.targets.spec import DeployFailed, Served, TargetError
from models.errors import ModelError
from runtime import serving
from runtime.cluster import ensure_token
from runtime.desired import ScorerOptions
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
        """Arriving versions are first deployed unrouted (0%) until they run; leaving versions stay
        deployed at 0% until the gateway routes by the new table: no request, mirrored copy included,
        ever reaches an application that is not running."""
        current = self._record().desired.traffic.models.get(model)
        if current is not None and traffic is not None:
            arriving, leaving = (
                set(traffic.versions) - set(current.versions),
                set(current.versions) - set(traffic.versions),
            )
            if arriving:
                self._settle(model, _with_unrouted(current, arriving), options)
            if leaving:
                self._settle(model, _with_unrouted(traffic, leaving), options)
        self._put(model, traffic, options)

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
        try:
            serving.apply(self._api(record), desired)
        except ServeApiError as e:
            raise TargetError(str(e)) from e
        except ModelError as e:  # a version missing, tampered with, or asking for absent GPUs
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


def _with_unrouted(traffic: ModelTraffic, versions: set[int]) -> ModelTraffic:
    """`traffic` with `versions` also deployed, at 0% and mirrored nowhere (pure)."""
    weights = {**traffic.weights, **dict.fromkeys(versions - set(traffic.weights), 0)}
    return traffic.model_copy(update={"weights": weights})
