"""The controller service: the loop in a thread and the control API in the same process
(`raynomaly controller run`), and starting/stopping it in the background (`up` / `down`)."""

import logging
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import httpx
import uvicorn

from controller.api.app import Services, create_app
from controller.client import ControllerError, trust
from controller.environments.spec import load
from controller.loadtest.gate import LocustGate
from controller.loop import Controller
from controller.revocations import publish
from controller.settings import ControllerSettings
from controller.sources import source_for
from controller.sources.alerts import alerts_for
from controller.sources.runtimes import by_target
from controller.sources.spec import MetricSource
from controller.store import open_store
from controller.targets.registry import Targets
from models.private import ensure_secret, private_folder, write_private
from models.store import ModelStore
from runtime.certs import provided
from runtime.ratelimit import RateLimiter
from runtime.record import RuntimeRecord, read_running
from runtime.tokens import mint

if TYPE_CHECKING:
    from runtime.desired import Access

ADMIN_TOKEN_TTL_S = 7 * 24 * 3600
"""The local CLI's admin token: `up` and `controller start` mint a fresh one each time."""
CLIENT_KEY_TTL_S = 7 * 24 * 3600
"""The local inference key `up` writes for this machine's user."""
LOADTEST_KEY_TTL_S = 3600
"""The load-test gate's inference key, minted for each run (a run lasts at most 10 minutes)."""
START_TIMEOUT_S = 60.0


def serve(settings: ControllerSettings) -> None:
    """Run the loop and the control API until SIGTERM / Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the decisions
    running = read_running(settings.runtime)  # None where the controller runs without a local runtime
    record = running[0] if running else None
    models = ModelStore(running[1].store if running else settings.runtime.store)
    store = open_store(str(settings.database))
    source = metric_source(settings, record)
    gateway = settings.gateway_url or (record.http_url if record else None)
    gate = None
    if gateway is not None:
        secret = ensure_secret(settings.secret_path)
        gate = LocustGate(
            gateway, lambda model, version: models.manifest(model, version).n_features,
            key=lambda: mint(secret, "raynomaly-loadtest", "client", LOADTEST_KEY_TTL_S),
        )  # fmt: skip
    targets = Targets(settings)
    environments = load(settings.environments)
    controller = Controller(store, targets, source, gate, sources=by_target(source, settings.runtime))
    stop = threading.Event()
    loop = threading.Thread(target=controller.run, args=(stop, settings.tick_s), name="rollouts", daemon=True)
    services = Services(
        store=store,
        targets=targets,
        models=models,
        secret=ensure_secret(settings.secret_path),
        limiter=RateLimiter(settings.rate_per_s, settings.burst, settings.rate_keys),
        alive=loop.is_alive,
        revoked_file=settings.revoked_path,
        environments=environments,
        alerts=alerts_for(settings.prometheus_url),
    )
    publish(store, settings.revoked_path)  # revocations made while no controller ran reach the gateway
    loop.start()
    logging.getLogger("raynomaly.controller").info(
        "control API on %s:%d, metrics from %s, environments %s from %s", settings.host, settings.port,
        source.name, " -> ".join(environments.environments), environments.source,
    )  # fmt: skip
    try:
        server(create_app(services), settings).run()
    finally:
        stop.set()
        loop.join(timeout=10)


def server_options(settings: ControllerSettings) -> dict:
    """uvicorn's options (pure): proxy headers (X-Forwarded-For) are believed only from the proxies
    configured, none by default, so a client cannot pick its own address (and rate-limit bucket)."""
    proxies = ",".join(settings.trusted_proxies)
    return {"host": settings.host, "port": settings.port, "log_level": "warning",
            "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies}  # fmt: skip


def server(app, settings: ControllerSettings) -> uvicorn.Server:
    """The control API's server: HTTPS with TLS 1.3 at least when `settings` name a certificate and
    key (checked first: TlsError names a bad file), plain HTTP otherwise."""
    if settings.tls_cert is None or settings.tls_key is None:
        return uvicorn.Server(uvicorn.Config(app, **server_options(settings)))
    files = provided(settings.tls_cert, settings.tls_key)
    config = uvicorn.Config(app, **server_options(settings), ssl_certfile=files.cert, ssl_keyfile=files.key)
    config.load()  # uvicorn takes no minimum TLS version: its context is tightened once built
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_3
    return uvicorn.Server(config)


def metric_source(settings: ControllerSettings, record: RuntimeRecord | None) -> MetricSource:
    """Prometheus when named, else a scrape of the named (or the local runtime's) Ray metrics."""
    if settings.prometheus_url:
        return source_for("prometheus", settings.prometheus_url)
    if settings.metrics_url:
        return source_for("scrape", settings.metrics_url)
    if record is not None:
        return source_for("scrape", f"http://127.0.0.1:{record.metrics_port}/metrics")
    raise ControllerError(
        f"no metric source: no local runtime in {settings.runtime.state_dir} ('raynomaly up'), "
        "and neither --prometheus-url nor --metrics-url was given"
    )


def ensure_admin_token(settings: ControllerSettings) -> str:
    """The signing secret and an admin token for the local CLI, both 0600 in an 0700 folder; the
    token is minted anew (valid `ADMIN_TOKEN_TTL_S`) on each call."""
    private_folder(settings.folder)
    secret = ensure_secret(settings.secret_path)
    write_private(settings.admin_token_path, mint(secret, "local-admin", "admin", ADMIN_TOKEN_TTL_S))
    return settings.admin_token_path.read_text()


def inference_access(settings: ControllerSettings) -> "Access":
    """The gateway's access for the local runtime: tokens signed with the controller's secret,
    revocations from its list; and a client key for this machine's user (0600, valid
    `CLIENT_KEY_TTL_S`, minted anew on each call)."""
    from runtime.desired import Access

    secret = ensure_secret(settings.secret_path)
    write_private(settings.client_key_path, mint(secret, "local-client", "client", CLIENT_KEY_TTL_S))
    if not settings.revoked_path.exists():
        write_private(settings.revoked_path, "")
    return Access(secret_file=str(settings.secret_path.resolve()),
                  revoked_file=str(settings.revoked_path.resolve()))  # fmt: skip


def start_background(settings: ControllerSettings) -> str:
    """Start `raynomaly controller run` detached, wait for /ready, return its URL."""
    ensure_admin_token(settings)
    stop_background(settings)
    command = [sys.executable, "-m", "controller.cli", "controller", "run", "--port", str(settings.port)]
    if settings.prometheus_url:
        command += ["--prometheus-url", settings.prometheus_url]
    if settings.metrics_url:
        command += ["--metrics-url", settings.metrics_url]
    load(settings.environments)  # a mistake in the environments file is named here, not in the log
    if settings.environments:
        command += ["--environments", str(settings.environments.resolve())]
    if settings.tls_cert and settings.tls_key:
        files = provided(settings.tls_cert, settings.tls_key)  # a bad file is named here, not in the log
        command += ["--tls-cert", str(files.cert.resolve()), "--tls-key", str(files.key.resolve())]
    with open(settings.log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    settings.pid_path.write_text(str(process.pid))
    url = settings.url if settings.tls_cert else f"http://127.0.0.1:{settings.port}"
    verify = trust(settings) if url.startswith("https:") else True
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ControllerError(f"the controller exited ({process.returncode}); see {settings.log_path}")
        try:
            if httpx.get(f"{url}/ready", timeout=2.0, verify=verify).status_code == 200:
                settings.url_path.write_text(url)
                if settings.tls_cert:
                    write_private(settings.tls_path, f"{files.cert.resolve()}\n{files.key.resolve()}\n")
                else:
                    settings.tls_path.unlink(missing_ok=True)
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ControllerError(
        f"the controller did not answer at {url} in {START_TIMEOUT_S:.0f} s; see {settings.log_path}"
    )


def stop_background(settings: ControllerSettings) -> None:
    """Stop the background controller recorded in the pid file, if it runs."""
    settings.url_path.unlink(missing_ok=True)
    if not settings.pid_path.exists():
        return
    pid = int(settings.pid_path.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            time.sleep(0.1)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    settings.pid_path.unlink(missing_ok=True)
