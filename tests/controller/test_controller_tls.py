"""The control API over TLS 1.3: its settings, and, live on loopback, the real app served by uvicorn
with the local CA's certificate, and the CLI's client verifying it."""

import ssl
import threading
from pathlib import Path

import pytest
from starlette.applications import Starlette

from controller.api.app import Services, create_app
from controller.client import ControlApiError, connect
from controller.service import ensure_admin_token, server, start_background, stop_background
from controller.settings import ControllerSettings
from controller.store import open_store
from models.store import ModelStore
from runtime.certs import TlsError, self_signed
from runtime.ratelimit import RateLimiter
from tests.controller.doubles import TargetDouble
from tests.tls import free_port, handshake


def test_a_certificate_makes_the_url_https(tmp_path):
    environ = {"RAYNOMALY_HOME": str(tmp_path), "RAYNOMALY_CONTROLLER_PORT": "38700"}
    settings = ControllerSettings.resolve(environ, tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem")
    assert settings.url == "https://127.0.0.1:38700"
    assert ControllerSettings.resolve(environ).url == "http://127.0.0.1:38700"


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({"RAYNOMALY_CONTROLLER_TLS_CERT": "c.pem"}, id="certificate-without-key"),
        pytest.param({"RAYNOMALY_CONTROLLER_TLS_KEY": "k.pem"}, id="key-without-certificate"),
    ],
)
def test_a_certificate_needs_its_key(environ):
    with pytest.raises(ValueError, match="needs both a certificate and its key"):
        ControllerSettings.resolve(environ)


def test_the_url_the_background_controller_recorded_is_the_clients(tmp_path):
    home = {"RAYNOMALY_HOME": str(tmp_path)}
    settings = ControllerSettings.resolve(home)
    settings.folder.mkdir()
    settings.url_path.write_text("https://127.0.0.1:8600\n")
    assert ControllerSettings.resolve(home).url == "https://127.0.0.1:8600"
    explicit = {**home, "RAYNOMALY_CONTROLLER_URL": "https://controller.example:443"}
    assert ControllerSettings.resolve(explicit).url == "https://controller.example:443"
    assert (
        ControllerSettings.resolve({**home, "RAYNOMALY_CONTROLLER_PORT": "8700"}).url
        == "http://127.0.0.1:8700"
    )


def test_the_ca_is_the_named_one_else_the_local_one_else_none(tmp_path):
    home = {"RAYNOMALY_HOME": str(tmp_path / "state")}
    assert ControllerSettings.resolve(home).client_ca() is None
    local = self_signed(ControllerSettings.resolve(home).runtime.tls_dir).ca
    assert ControllerSettings.resolve(home).client_ca() == local
    named = self_signed(tmp_path / "other").ca
    assert ControllerSettings.resolve({**home, "RAYNOMALY_CA": str(named)}).client_ca() == named
    with pytest.raises(ValueError, match="RAYNOMALY_CA=.*missing.pem: no such file"):
        ControllerSettings.resolve({**home, "RAYNOMALY_CA": str(tmp_path / "missing.pem")}).client_ca()


def test_bad_certificate_files_stop_the_server_before_it_listens(tmp_path):
    other = self_signed(tmp_path / "other")
    mine = self_signed(tmp_path / "mine")
    settings = ControllerSettings.resolve(
        {"RAYNOMALY_HOME": str(tmp_path)}, tls_cert=mine.cert, tls_key=other.key
    )
    with pytest.raises(TlsError, match="is not the key of --tls-cert"):
        server(Starlette(), settings)


@pytest.fixture(scope="module")
def https(tmp_path_factory):
    """The real control API over TLS with the local CA's certificate; yields the environment its
    CLI would run with."""
    home = tmp_path_factory.mktemp("state")
    environ = {"RAYNOMALY_HOME": str(home), "RAYNOMALY_CONTROLLER_PORT": str(free_port())}
    files = self_signed(ControllerSettings.resolve(environ).runtime.tls_dir)
    settings = ControllerSettings.resolve(environ, tls_cert=files.cert, tls_key=files.key)
    ensure_admin_token(settings)
    services = Services(
        store=open_store(str(settings.database)),
        targets=lambda ref: TargetDouble(None),
        models=ModelStore(str(home / "models")),
        secret=settings.secret_path.read_text(),
        limiter=RateLimiter(rate=50.0, burst=50),
        alive=lambda: True,
    )
    api = server(create_app(services), settings)
    thread = threading.Thread(target=api.run, daemon=True)
    thread.start()
    while not api.started and thread.is_alive():
        threading.Event().wait(0.02)
    yield {**environ, "RAYNOMALY_CONTROLLER_URL": settings.url}
    api.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_the_cli_client_verifies_the_api_with_the_local_ca(https):
    settings = ControllerSettings.resolve(https)
    assert settings.url.startswith("https://127.0.0.1:")
    client = connect(settings)
    try:
        assert client.get("/api/v1/models") == []
    finally:
        client.close()


def test_a_client_trusting_another_ca_is_told_to_set_raynomaly_ca(https, tmp_path):
    other = self_signed(tmp_path / "other").ca
    client = connect(ControllerSettings.resolve({**https, "RAYNOMALY_CA": str(other)}))
    with pytest.raises(ControlApiError, match="does not trust .*set RAYNOMALY_CA to the CA certificate"):
        client.get("/api/v1/models")


def test_the_api_negotiates_tls_13_and_refuses_tls_12(https):
    settings = ControllerSettings.resolve(https)
    port = int(settings.url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(settings.client_ca()))
    assert handshake(port, context) == "TLSv1.3"
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        handshake(port, context)


@pytest.mark.integration
def test_the_background_controller_serves_https_and_the_cli_finds_it(tmp_path, monkeypatch):
    home = {"RAYNOMALY_HOME": str(tmp_path), "RAYNOMALY_CONTROLLER_PORT": str(free_port()),
            "RAYNOMALY_STORE": str(tmp_path / "models")}  # fmt: skip
    for variable, value in home.items():
        monkeypatch.setenv(variable, value)  # the controller process reads them too
    files = self_signed(ControllerSettings.resolve(home).runtime.tls_dir)
    settings = ControllerSettings.resolve(
        home, tls_cert=files.cert, tls_key=files.key, metrics_url="http://127.0.0.1:1/metrics"
    )
    try:
        url = start_background(settings)
        cli = ControllerSettings.resolve(
            {"RAYNOMALY_HOME": str(tmp_path), "RAYNOMALY_STORE": home["RAYNOMALY_STORE"]}
        )
        assert url == cli.url == f"https://127.0.0.1:{home['RAYNOMALY_CONTROLLER_PORT']}"
        client = connect(cli)
        assert client.get("/api/v1/models") == []
        client.close()
    finally:
        stop_background(settings)
    assert not settings.url_path.exists()


def test_a_restarted_controller_serves_https_again_with_the_certificate_it_had(tmp_path):
    home = {"RAYNOMALY_HOME": str(tmp_path)}
    settings = ControllerSettings.resolve(home)
    settings.folder.mkdir(parents=True)
    settings.url_path.write_text("https://127.0.0.1:8600")
    settings.tls_path.write_text("/certs/server.pem\n/certs/server.key\n")
    restarted = ControllerSettings.resolve(home).with_recorded_tls()
    assert (restarted.tls_cert, restarted.tls_key) == (Path("/certs/server.pem"), Path("/certs/server.key"))
    assert ControllerSettings.resolve({**home, "RAYNOMALY_CONTROLLER_PORT": "8600"}).url.startswith("https:")
    assert (
        ControllerSettings.resolve({**home, "RAYNOMALY_CONTROLLER_PORT": "8700"}).url
        == "http://127.0.0.1:8700"
    )
    settings.url_path.write_text("http://127.0.0.1:8600")  # a later start without TLS
    assert ControllerSettings.resolve(home).with_recorded_tls().tls_cert is None
