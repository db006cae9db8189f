"""Local serving: traffic changes and how a desired state is put in place.

Decisions (`with_traffic`, `stages`, `draining`, `placed`, `applications_awaited`) are pure;
`prepare`, `put`, `put_staged`, `readiness` and `wait_ready` do the I/O. `put` records a state
(`runtime.record`, guarded by the revision it was based on) before it applies it.
"""

import time
from collections.abc import Callable

import httpx

from models.gpu import GpuUnavailable, check_gpu_path
from models.manifest import Manifest
from models.store import ModelStore
from runtime.desired import DEDICATED, DeployedVersion, DesiredState, ScorerOptions
from runtime.record import record_served
from runtime.serve_api import ServeApi
from runtime.serveconfig import render, validate
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic, TrafficTable


class DeployFailed(Exception):
    """Serve could not deploy an application, or a version cannot be served (a rollout on it
    fails rather than waits); the message carries the reason."""


def with_traffic(desired: DesiredState, model: str, traffic: ModelTraffic | None,
                 options: dict[int, ScorerOptions] | None = None) -> DesiredState:  # fmt: skip
    """`desired` with the model's table replaced (pure): versions it names are deployed (with
    `options` where given), others removed; None removes the model."""
    versions = set(traffic.versions) if traffic is not None else set()
    kept = [v for v in desired.versions if v.model != model or v.version in versions]
    present = {v.version for v in kept if v.model == model}
    added = [DeployedVersion(model=model, version=v) for v in sorted(versions - present)]
    deployed = [
        v.model_copy(update={"options": options[v.version]})
        if v.model == model and v.version in (options or {})
        else v
        for v in kept + added
    ]
    models = {m: t for m, t in desired.traffic.models.items() if m != model}
    if traffic is not None:
        models[model] = traffic
    update = {"versions": deployed, "traffic": TrafficTable(models=models), "draining": []}
    return desired.model_copy(update=update)


def stages(current: ModelTraffic | None, target: ModelTraffic | None) -> list[ModelTraffic | None]:
    """The tables that take a model from `current` to `target` without a request, mirrored copy
    included, ever reaching an application that is not running (pure): arriving versions are first
    deployed at 0% (to be waited for), leaving ones are kept at 0% until the gateway routes without
    them; the last table is `target`."""
    if current is None or target is None:
        return [target]
    arriving, leaving = (
        set(target.versions) - set(current.versions),
        set(current.versions) - set(target.versions),
    )
    tables = [_with_unrouted(current, arriving)] if arriving else []
    if leaving:
        tables.append(_with_unrouted(target, leaving))
    return [*tables, target]


def _with_unrouted(traffic: ModelTraffic, versions: set[int]) -> ModelTraffic:
    """`traffic` with `versions` also deployed, at 0% and mirrored nowhere (pure)."""
    weights = {**traffic.weights, **dict.fromkeys(versions - set(traffic.weights), 0)}
    return traffic.model_copy(update={"weights": weights})


def draining(current: DesiredState, target: DesiredState) -> DesiredState | None:
    """The state to pass through on the way from `current` to `target` when versions move from a
    dedicated application to inline (pure): `target` with those applications kept running until
    every gateway replica scores the versions itself; None when nothing moves that way."""
    inline = {(v.model, v.version) for v in target.versions if v.inline}
    moving = [v for v in current.versions if not v.inline and (v.model, v.version) in inline]
    return target.model_copy(update={"draining": moving}) if moving else None


HEAVY_DETECTORS = frozenset({"knn", "lof"})
HEAVY_CELLS = 1_000_000
"""Training cells (rows x features) from which a neighbour model is heavy: its per-row cost grows
with them (~0.05 us a cell measured: 1M cells ~50 us a row, 50x a forest), and scoring a large
request inline would stall every other request of the gateway replica."""


def heavy(manifest: Manifest) -> bool:
    """Whether a version should not be scored inline (pure)."""
    cells = manifest.training.fit_rows * manifest.n_features
    return manifest.detector in HEAVY_DETECTORS and cells >= HEAVY_CELLS


def placed(desired: DesiredState, manifests: dict[tuple[str, int], Manifest]) -> DesiredState:
    """`desired` with heavy versions that name no placement placed dedicated (pure)."""
    versions = [
        v.model_copy(update={"options": v.options.model_copy(update={"placement": DEDICATED})})
        if v.options.placement is None and v.inline and heavy(manifests[(v.model, v.version)])
        else v
        for v in desired.versions
    ]
    return desired.model_copy(update={"versions": versions})


def check_gpus(desired: DesiredState, store: ModelStore, cluster_gpus: float) -> None:
    """Refuse GPU replicas the cluster cannot place or the version cannot use (GpuUnavailable)."""
    for deployed in desired.versions:
        gpus = deployed.options.num_gpus
        if gpus <= 0:
            continue
        check_gpu_path(store.manifest(deployed.model, deployed.version))
        if cluster_gpus < gpus:
            raise GpuUnavailable(
                f"{deployed.model}:{deployed.version} asks for {gpus:g} GPU per replica but the cluster has "
                f"{cluster_gpus:g}; add GPU nodes or deploy it with num_gpus=0"
            )


def prepare(api: ServeApi, desired: DesiredState) -> DesiredState:
    """`desired` checked against the store (manifest seals verified, heavy versions placed dedicated)
    and the cluster (GPU requests); ModelError naming what cannot be served."""
    store = ModelStore(desired.store)
    manifests = {(v.model, v.version): store.manifest(v.model, v.version) for v in desired.versions}
    desired = placed(desired, manifests)
    if any(v.options.num_gpus > 0 for v in desired.versions):
        check_gpus(desired, store, api.gpus())
    return desired


def apply(api: ServeApi, desired: DesiredState) -> None:
    """Render `desired`, validate it with Ray's schema, apply it through the Serve REST API."""
    api.apply(validate(render(desired)))


def put(api: ServeApi, settings: RuntimeSettings, desired: DesiredState, current: DesiredState | None = None,
        settle: Callable[[DesiredState], None] = lambda _: None, *,
        based_on: int) -> DesiredState:  # fmt: skip
    """Prepare `desired`, record it as the revision after `based_on` (the one its caller read;
    Conflict if another writer recorded since), then apply it. Coming from `current`, versions that
    move inline first pass through `draining` (applied, then `settle`d). Returns the state recorded
    and applied."""
    desired = record_served(settings, prepare(api, desired), based_on=based_on)
    through = draining(current, desired) if current is not None else None
    if through is not None:
        apply(api, through)
        settle(through)
    apply(api, desired)
    return desired


def put_staged(api: ServeApi, settings: RuntimeSettings, current: DesiredState, model: str,
               traffic: ModelTraffic | None, options: dict[int, ScorerOptions] | None = None, *,
               settle: Callable[[DesiredState], None]) -> DesiredState:  # fmt: skip
    """Take `model` from its table in `current` (the served state as read) to `traffic` through
    `stages`: each table is `put` on the state the one before recorded, and `settle`d (waited for)
    before the next. The last table is not waited for: whether to is the caller's choice. Returns
    the state recorded last; Conflict when another writer recorded in between."""
    *intermediate, final = stages(current.traffic.models.get(model), traffic)
    for table in intermediate:
        desired = with_traffic(current, model, table, options)
        current = put(api, settings, desired, current, settle, based_on=current.revision)
        settle(current)
    desired = with_traffic(current, model, final, options)
    return put(api, settings, desired, current, settle, based_on=current.revision)


def applications_awaited(applications: dict, expected: list[str]) -> str | None:
    """What Serve has yet to run of the `expected` applications, given their statuses as Serve
    reports them (`{name: {"status", "message"}}`), or None when it runs them all (pure).
    DeployFailed with Serve's reason for each one it failed to deploy: waiting would be forever."""
    failed = {
        name: applications[name].get("message") or "no message"
        for name in sorted(expected)
        if applications.get(name, {}).get("status") == "DEPLOY_FAILED"
    }
    if failed:
        raise DeployFailed(
            "; ".join(f"{name} failed to deploy: {message[-1500:]}" for name, message in failed.items())
        )
    pending = sorted(n for n in expected if applications.get(n, {}).get("status") != "RUNNING")
    return ", ".join(f"{n} ({applications.get(n, {}).get('status', 'NOT_STARTED')})" for n in pending) or None


def readiness(api: ServeApi, http_url: str, desired: DesiredState, *,
              transport: httpx.BaseTransport | None = None) -> str | None:  # fmt: skip
    """None once Serve runs every desired application and the gateway's /ready answers 200 (asked
    through `transport`, default the network), else what is still awaited. DeployFailed with
    Serve's reason if an application failed to deploy.

    Serve reports an application RUNNING only once every replica took the new config, so an old
    gateway table can never pass for the new one.
    """
    waiting = applications_awaited(api.status().get("applications", {}), desired.applications)
    if waiting is not None:
        return waiting
    try:
        with httpx.Client(transport=transport, timeout=5.0) as gateway:
            response = gateway.get(f"{http_url}/ready")
    except httpx.HTTPError as e:
        return f"the gateway ({type(e).__name__})"
    if response.status_code == 200:
        return None
    failed = _json_field(response, "failed")
    if failed:
        raise DeployFailed(f"the gateway kept its previous table: {failed}")
    return f"the gateway's /ready ({', '.join(_json_field(response, 'waiting') or ['no answer'])})"


def _json_field(response: httpx.Response, name: str):
    try:
        return response.json().get(name)
    except ValueError:  # not JSON (HAProxy's own 503 while no replica is up)
        return None


def wait_ready(api: ServeApi, http_url: str, desired: DesiredState, timeout_s: float,
               progress: Callable[[str], None] = lambda _: None, *,
               transport: httpx.BaseTransport | None = None) -> None:  # fmt: skip
    """Wait until `readiness` says ready; TimeoutError naming what was still awaited."""
    deadline, last = time.monotonic() + timeout_s, "no answer yet"
    while time.monotonic() < deadline:
        last = readiness(api, http_url, desired, transport=transport)
        if last is None:
            return
        progress(f"waiting for {last}")
        time.sleep(0.5)
    raise TimeoutError(f"not ready after {timeout_s:.0f} s: {last}")
