"""What `up` serves and what it records: the served state restored after a restart (never a newly
published version), models never served joining at their newest version, refusals that name why,
and the served record's revisions."""

import numpy as np
import pytest

from models.errors import ModelError
from models.store import ModelStore
from models.training import TrainRequest, train
from runtime.desired import GatewayOptions
from runtime.record import read_served, record_served
from runtime.restore import RestoreRefused, check_loadable, default_replicas, restored, startup_state
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic, TrafficTable
from tests.tables import write_features


@pytest.fixture
def store(tmp_path) -> ModelStore:
    """fraud:1 (hbos), fraud:2 (iforest) and churn:1 (hbos)."""
    write_features(tmp_path / "t.csv", np.random.default_rng(0).normal(size=(100, 2)))
    store = ModelStore(str(tmp_path / "models"))
    for name, detector in [("fraud", "hbos"), ("fraud", "iforest"), ("churn", "hbos")]:
        train(TrainRequest(name, detector, str(tmp_path / "t.csv")), store)
    return store


def settings(tmp_path, **changes) -> RuntimeSettings:
    return RuntimeSettings.resolve({"RAYNOMALY_HOME": str(tmp_path / "state")}, **changes)


def test_the_first_start_serves_the_newest_version_of_every_model_and_says_so(tmp_path, store):
    state, notes = startup_state(None, store, settings(tmp_path))
    assert [(v.model, v.version) for v in state.versions] == [("churn", 1), ("fraud", 2)]
    assert state.traffic.models["fraud"].weights == {2: 100}
    assert notes == ["churn: serving its newest version, 1", "fraud: serving its newest version, 2"]


def test_a_restart_serves_the_recorded_table_not_the_newest_version(tmp_path, store):
    first, _ = startup_state(None, store, settings(tmp_path))
    served = first.model_copy(update={"traffic": TrafficTable(models={
        "fraud": ModelTraffic(weights={1: 100}), "churn": ModelTraffic(weights={1: 100})})})  # fmt: skip
    served = served.model_copy(
        update={"versions": [v.model_copy(update={"version": 1}) for v in served.versions]}
    )
    recorded = record_served(settings(tmp_path), served, based_on=0)
    write_features(tmp_path / "u.csv", np.random.default_rng(1).normal(size=(100, 2)))
    train(
        TrainRequest("fraud", "hbos", str(tmp_path / "u.csv")), store
    )  # fraud:3 published, never rolled out
    again, notes = startup_state(read_served(settings(tmp_path)).desired, store, settings(tmp_path))
    assert again.traffic.models["fraud"].weights == {1: 100} and again.revision == recorded.revision == 1
    assert notes == ["restored the served state of revision 1"]


def test_a_model_never_served_joins_at_its_newest_version_and_says_so(tmp_path, store):
    only_fraud, _ = startup_state(None, store, settings(tmp_path))
    only_fraud = only_fraud.model_copy(update={
        "versions": [v for v in only_fraud.versions if v.model == "fraud"],
        "traffic": TrafficTable(models={"fraud": only_fraud.traffic.models["fraud"]})})  # fmt: skip
    state, notes = startup_state(
        record_served(settings(tmp_path), only_fraud, based_on=0), store, settings(tmp_path)
    )
    assert state.traffic.models["churn"].weights == {1: 100}
    assert notes[1] == "churn: never served; serving its newest version, 1"


def test_the_recorded_gateway_stays_unless_replicas_are_named(tmp_path, store):
    first, _ = startup_state(None, store, settings(tmp_path, replicas=(1, 3)))
    assert first.gateway.autoscaling.max_replicas == 3
    recorded = record_served(
        settings(tmp_path), first.model_copy(update={"gateway": GatewayOptions(num_replicas=1)}), based_on=0
    )
    assert startup_state(recorded, store, settings(tmp_path))[0].gateway.num_replicas == 1
    assert startup_state(recorded, store, settings(tmp_path, replicas=(2, 2)))[0].gateway.num_replicas == 2
    assert default_replicas(2) == (2, 2) and default_replicas(1) == (1, 1)


def test_a_record_of_another_store_is_refused_naming_both(tmp_path, store):
    recorded, _ = startup_state(None, store, settings(tmp_path))
    elsewhere = ModelStore(str(tmp_path / "other"))
    with pytest.raises(RestoreRefused, match=f"serves models from {store.uri}, not {elsewhere.uri}.*--reset"):
        startup_state(recorded, elsewhere, settings(tmp_path))


def test_a_recorded_version_that_no_longer_loads_is_refused_by_name(tmp_path, store):
    state, _ = startup_state(None, store, settings(tmp_path))
    artifact = next(p for p in (tmp_path / "models" / "fraud" / "2").iterdir() if p.name != "manifest.json")
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    with pytest.raises(RestoreRefused, match=r"routes fraud:2 \(.*sha256 mismatch.*\).*--reset"):
        check_loadable(state, store)


def test_every_record_is_the_next_revision_and_survives(tmp_path, store):
    state, _ = startup_state(None, store, settings(tmp_path))
    assert read_served(settings(tmp_path)) is None
    assert [record_served(settings(tmp_path), state, based_on=r).revision for r in range(3)] == [1, 2, 3]
    assert read_served(settings(tmp_path)).desired.revision == 3
    assert not list((tmp_path / "state").glob(".*tmp*"))  # nothing half-written left behind


def test_up_restores_the_record_and_bases_its_write_on_the_revision_it_read(tmp_path, store):
    first, _ = startup_state(None, store, settings(tmp_path))
    only_fraud = first.model_copy(update={
        "versions": [v for v in first.versions if v.model == "fraud"],
        "traffic": TrafficTable(models={"fraud": first.traffic.models["fraud"]})})  # fmt: skip
    record_served(settings(tmp_path), first, based_on=0)
    record_served(settings(tmp_path), only_fraud, based_on=1)
    desired, notes, based_on = restored(settings(tmp_path), store, reset=False)
    assert based_on == 2 and notes[0] == "restored the served state of revision 2"
    desired, notes, based_on = restored(settings(tmp_path), store, reset=True)
    assert based_on == 2 and notes[0] == "churn: serving its newest version, 1"  # replaces revision 2


def test_up_refuses_an_empty_store_before_starting_anything(tmp_path):
    with pytest.raises(ModelError, match="no models in .*raynomaly models train"):
        restored(settings(tmp_path), ModelStore(str(tmp_path / "empty")), reset=False)
