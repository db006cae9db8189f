"""The controller as a companion of the local runtime: `raynomaly up` starts it, `down` stops it."""

from controller.settings import ControllerSettings
from runtime.settings import RuntimeSettings


class ControllerCompanion:
    """Starts the controller in the background with `up` and stops it with `down`."""

    def start(self, runtime: RuntimeSettings) -> dict[str, str]:
        from controller import service  # the service's web stack loads only when it is started

        settings = ControllerSettings.resolve(runtime=runtime)
        url = service.start_background(settings)
        return {"control API": f"{url}/api/v1 (admin token in {settings.admin_token_path})"}

    def stop(self, runtime: RuntimeSettings) -> None:
        from controller import service

        service.stop_background(ControllerSettings.resolve(runtime=runtime))
