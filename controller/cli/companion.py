"""The controller as a companion of the local runtime: `raynomaly up` starts it, `down` stops it.

The service's web stack loads only when it is started.
"""

from controller.settings import ControllerSettings
from runtime.settings import RuntimeSettings


def start(runtime: RuntimeSettings) -> dict[str, str]:
    """Start the controller in the background; returns the endpoints to print."""
    from controller import service

    settings = ControllerSettings.resolve(runtime=runtime)
    url = service.start_background(settings)
    return {"control API": f"{url}/api/v1 (admin token in {settings.admin_token_path})"}


def stop(runtime: RuntimeSettings) -> None:
    """Stop the controller started with the runtime, if it runs."""
    from controller import service

    service.stop_background(ControllerSettings.resolve(runtime=runtime))
