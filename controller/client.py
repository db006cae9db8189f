"""The one seam from the CLI to the control API: httpx with the bearer token, verifying an https
API's certificate (never skipped); failures become `ControlApiError` here, once."""

import ssl

import httpx

from controller.settings import ControllerSettings


class ControlApiError(Exception):
    """The control API refused or could not be reached; `status` is its HTTP status (0 if none)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class ControllerError(Exception):
    """The controller could not be started or stopped; the message says why."""


class ControlClient:
    def __init__(
        self,
        url: str,
        token: str | None,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(
            base_url=url, headers=headers, timeout=30.0, transport=transport, verify=verify
        )

    def close(self) -> None:
        """Close the connections kept open (a TLS server waits for them when it shuts down)."""
        self._client.close()

    def call(self, method: str, path: str, **kwargs):
        """The JSON answer, or ControlApiError with the API's own message."""
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            if _untrusted(e):
                raise ControlApiError(
                    f"the controller at {self._client.base_url} presented a certificate this client does "
                    f"not trust ({e}); set RAYNOMALY_CA to the CA certificate that signed it"
                ) from e
            raise ControlApiError(
                f"cannot reach the controller at {self._client.base_url} ({e}); is 'raynomaly up' running?"
            ) from e
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ControlApiError(f"{detail} ({response.status_code})", response.status_code)
        return response.json()

    def get(self, path: str, **params):
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict | None = None):
        return self.call("POST", path, json=body)

    def delete(self, path: str, **params):
        return self.call("DELETE", path, params={k: v for k, v in params.items() if v is not None})


def trust(settings: ControllerSettings) -> ssl.SSLContext | bool:
    """What an https control API's certificate is verified with: the CA of `settings.client_ca()`,
    else (True) httpx's default trust store."""
    ca = settings.client_ca()
    return ssl.create_default_context(cafile=str(ca)) if ca else True


def connect(settings: ControllerSettings) -> ControlClient:
    """A client of the control API at `settings.url`, with the CLI's token."""
    verify = trust(settings) if settings.url.startswith("https:") else True
    return ControlClient(settings.url, settings.client_token(), verify=verify)


def _untrusted(error: BaseException) -> bool:
    """Whether a certificate verification failure caused `error`."""
    while error is not None:
        if isinstance(error, ssl.SSLCertVerificationError):
            return True
        error = error.__cause__ or error.__context__
    return False
