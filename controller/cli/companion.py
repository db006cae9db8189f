"""The controller as a companion of the local runtime: `raynomaly up` starts it, `down` stops it.

The service's web stack loads only when it is started.
"""

from typing import TYPE_CHECKING

from controller.settings import ControllerSettings
from runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    from runtime.certs import TlsFiles


def start(runtime: RuntimeSettings, tls: "TlsFiles | None" = None) -> dict[str, str]:
    """Start the controller in the background (serving HTTPS with `tls`'s certificate when given);
    returns the endpoints to print."""
    from controller import service

    files = {"tls_cert": tls.cert, "tls_key": tls.key} if tls is not None else {}
    settings = ControllerSettings.resolve(runtime=runtime, **files)
    url = service.start_background(settings)
    return {"control API": f"{url}/api/v1 (admin token in {settings.admin_token_path})"}


def stop(runtime: RuntimeSettings) -> None:
    """Stop the controller started with the runtime, if it runs."""
    from controller import service

    service.stop_background(ControllerSettings.resolve(runtime=runtime))
