"""Putting a desired state in place through Serve's REST API (a double, `httpx.MockTransport`):
each table recorded before it is applied, staged tables waited for before the next, and a
version moving inline kept dedicated until the gateway scores it."""

import pytest

from models.store import ModelStore
from runtime.desired import DeployedVersion, DesiredState, ScorerOptions
from runtime.record import read_served
from runtime.serve_api import ServeApi
from runtime.serving import put_staged
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic, TrafficTable
from tests.runtime.doubles import DASHBOARD, ServeDouble, running, two_versions


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    return two_versions(tmp_path_factory.mktemp("put"))


@pytest.fixture
def settings(tmp_path) -> RuntimeSettings:
    return RuntimeSettings.resolve({"RAYNOMALY_HOME": str(tmp_path / "state")})


def serving(
    store: ModelStore, weights: dict[int, int], options: ScorerOptions = ScorerOptions()
) -> DesiredState:
    return DesiredState(
        store=store.uri,
        versions=[DeployedVersion(model="fraud", version=v, options=options) for v in weights],
        traffic=TrafficTable(models={"fraud": ModelTraffic(weights=weights)}),
    )


def test_every_table_but_the_last_is_settled_before_the_next_and_the_last_is_returned(store, settings):
    serve, settled = ServeDouble(), []
    current = running(settings, serving(store, {1: 100}))
    api = ServeApi(DASHBOARD, "token", serve.transport)
    last = put_staged(api, settings, current, "fraud", ModelTraffic(weights={2: 100}), settle=settled.append)
    assert [serve.weights(c) for c in serve.configs] == [{1: 100, 2: 0}, {1: 0, 2: 100}, {2: 100}]
    assert [(s.revision, s.traffic.models["fraud"].weights) for s in settled] == [
        (2, {1: 100, 2: 0}),
        (3, {1: 0, 2: 100}),
    ]
    assert last.revision == read_served(settings).revision == 4 and last.traffic.models["fraud"].weights == {
        2: 100
    }


def test_a_version_moving_inline_keeps_its_application_until_the_gateway_scores_it(store, settings):
    serve, settled = ServeDouble(), []
    current = running(settings, serving(store, {1: 100}, ScorerOptions(placement="dedicated")))
    api = ServeApi(DASHBOARD, "token", serve.transport)
    inline = {1: ScorerOptions(placement="inline")}
    put_staged(api, settings, current, "fraud", ModelTraffic(weights={1: 100}), inline, settle=settled.append)
    assert [[a["name"] for a in c["applications"]] for c in serve.configs] == [
        ["gateway", "fraud--v1"],
        ["gateway"],
    ]
    assert [[(v.model, v.version) for v in s.draining] for s in settled] == [[("fraud", 1)]]
    assert read_served(settings).desired.versions[0].inline
