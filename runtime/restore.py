"""What `raynomaly up` serves (pure, but for reading the record, the store and the machine's core
count): the served state recorded before the runtime last stopped, restored; or, the first time,
the newest version of every model.

A version takes traffic only through `traffic set`, a rollout or a promotion, never because it was
published: restarting after `models train` serves what was served. A model published since but
never served joins at its newest version, and says so. A recorded version the store can no longer
load is refused, naming it, rather than silently replaced.
"""

import os

from models.errors import ModelError
from models.store import ModelStore
from runtime.desired import Autoscaling, DeployedVersion, DesiredState, Endpoints, GatewayOptions
from runtime.record import read_served, served_revision
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic, TrafficTable

GATEWAY_TARGET_CPU_SHARE = 0.6
"""The share of a core each gateway replica may use before autoscaling adds one
(`runtime.autoscaling`; it reads `target_ongoing_requests`)."""


class RestoreRefused(ModelError):
    """The recorded served state cannot be served as recorded; the message says what to do."""


def default_replicas(cpus: int) -> tuple[int, int]:
    """Two gateway replicas where the machine has two cores or more, so that one replica's death
    loses no request (pure)."""
    return (2, 2) if cpus >= 2 else (1, 1)


def gateway_options(replicas: tuple[int, int], options: GatewayOptions | None = None) -> GatewayOptions:
    """`options` (or the defaults) with the gateway's replicas: fixed, or autoscaled (pure)."""
    low, high = replicas
    base = options or GatewayOptions()
    if low == high:
        return base.model_copy(update={"num_replicas": low, "autoscaling": None})
    scaling = Autoscaling(
        min_replicas=low, max_replicas=high, target_ongoing_requests=GATEWAY_TARGET_CPU_SHARE
    )
    return base.model_copy(update={"num_replicas": low, "autoscaling": scaling})


def newest(store: ModelStore) -> dict[str, int]:
    """The newest version of every model in the store."""
    return {model: store.versions(model)[-1] for model in store.models()}


def startup_state(recorded: DesiredState | None, store: ModelStore, settings: RuntimeSettings
                  ) -> tuple[DesiredState, list[str]]:  # fmt: skip
    """The state `up` serves, and what it says about it: `recorded` restored (endpoints from
    `settings`), plus the models it never served at their newest version; without a record, the
    newest version of every model. RestoreRefused when the record serves from another store."""
    endpoints = Endpoints(http_port=settings.ports.http, grpc_port=settings.ports.grpc)
    replicas = settings.replicas
    if recorded is None:
        versions = newest(store)
        state = DesiredState(
            store=store.uri,
            versions=[DeployedVersion(model=m, version=v) for m, v in sorted(versions.items())],
            traffic=TrafficTable(models={m: ModelTraffic(weights={v: 100}) for m, v in versions.items()}),
            gateway=gateway_options(replicas or default_replicas(os.cpu_count() or 1)),
            endpoints=endpoints,
        )
        return state, [f"{m}: serving its newest version, {v}" for m, v in sorted(versions.items())]
    if recorded.store != store.uri:
        raise RestoreRefused(
            f"the served state (revision {recorded.revision}) serves models from {recorded.store}, not "
            f"{store.uri}: start with --store {recorded.store}, or with --reset to serve the newest "
            f"versions in {store.uri}"
        )
    added = {m: v for m, v in newest(store).items() if m not in recorded.traffic.models}
    traffic = dict(recorded.traffic.models) | {m: ModelTraffic(weights={v: 100}) for m, v in added.items()}
    joining = [DeployedVersion(model=m, version=v) for m, v in sorted(added.items())]
    state = recorded.model_copy(update={
        "versions": [*recorded.versions, *joining],
        "traffic": TrafficTable(models=traffic),
        "gateway": gateway_options(replicas, recorded.gateway) if replicas else recorded.gateway,
        "endpoints": endpoints,
        "draining": [],
    })  # fmt: skip
    notes = [f"restored the served state of revision {recorded.revision}"]
    notes += [f"{m}: never served; serving its newest version, {v}" for m, v in sorted(added.items())]
    return state, notes


def check_loadable(desired: DesiredState, store: ModelStore) -> None:
    """RestoreRefused naming every version of `desired` the store cannot load (checksums verified)."""
    broken = []
    for version in desired.versions:
        try:
            store.read(version.model, version.version)
        except ModelError as e:
            broken.append(f"{version.model}:{version.version} ({e})")
    if broken:
        raise RestoreRefused(
            f"the served state routes {'; '.join(broken)}, which cannot be loaded: republish or restore "
            "those versions, or start with --reset to serve the newest version of every model"
        )


def restored(
    settings: RuntimeSettings, store: ModelStore, reset: bool
) -> tuple[DesiredState, list[str], int]:
    """What `up` serves (`startup_state` of the record, or of none with `reset`; every version
    checked loadable), what it says about it, and the revision of the record it replaces, read now:
    `up` records its state based on it."""
    served = None if reset else read_served(settings)
    desired, notes = startup_state(served.desired if served else None, store, settings)
    if not desired.versions:
        raise ModelError(f"no models in {settings.store}; train one first with 'raynomaly models train'")
    check_loadable(desired, store)
    return desired, notes, served.revision if served else served_revision(settings)
