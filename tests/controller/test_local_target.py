"""The local target against a double of the runtime's dashboard and gateway (`httpx.MockTransport`):
what a model serves, staged applies recorded before they are applied, readiness, and failures in
the target's terms."""

import re

import httpx
import pytest

from controller.targets.local import LocalTarget
from controller.targets.spec import TargetError
from models.store import ModelStore
from runtime.conflict import Conflict
from runtime.desired import DeployedVersion, DesiredState, ScorerOptions
from runtime.record import read_served, record_served
from runtime.serving import DeployFailed
from runtime.settings import RuntimeSettings
from runtime.traffic import ModelTraffic, TrafficTable
from tests.runtime.doubles import ServeDouble, running, two_versions

CANARY = ModelTraffic(weights={1: 90, 2: 10})


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    return two_versions(tmp_path_factory.mktemp("local-target"))


@pytest.fixture
def settings(tmp_path) -> RuntimeSettings:
    return RuntimeSettings.resolve({"RAYNOMALY_HOME": str(tmp_path / "state")})


@pytest.fixture
def serve() -> ServeDouble:
    return ServeDouble()


@pytest.fixture
def target(settings, store, serve) -> LocalTarget:
    stable = DesiredState(
        store=store.uri,
        versions=[DeployedVersion(model="fraud", version=1)],
        traffic=TrafficTable(models={"fraud": ModelTraffic(weights={1: 100})}),
    )
    running(settings, stable)
    return LocalTarget(settings, serve.transport, settle_timeout_s=1.0)


def test_served_is_the_recorded_table_and_options(target):
    served = target.served("fraud")
    assert served.traffic.weights == {1: 100} and served.options == {1: ScorerOptions()}
    assert target.served("churn").traffic is None


def test_without_a_recorded_runtime_it_says_how_to_start_one(tmp_path, serve):
    target = LocalTarget(RuntimeSettings.resolve({"RAYNOMALY_HOME": str(tmp_path / "none")}), serve.transport)
    with pytest.raises(TargetError, match="raynomaly up"):
        target.served("fraud")


def test_a_new_version_is_deployed_unrouted_and_awaited_before_it_is_routed(target, serve, settings):
    target.apply("fraud", CANARY, {})
    assert [serve.weights(c) for c in serve.configs] == [{1: 100, 2: 0}, {1: 90, 2: 10}]
    first, last = [i for i, (method, _) in enumerate(serve.requests) if method == "PUT"]
    between = serve.requests[first + 1 : last]
    assert ("GET", "127.0.0.1:8000/ready") in between  # the unrouted table served before routing
    assert last == len(serve.requests) - 1  # the routed table is not waited for: readiness is polled
    recorded = read_served(settings)
    assert recorded.revision == 3 and recorded.desired.traffic.models["fraud"] == CANARY
    # each table is recorded before it is applied, and the gateway learns its revision
    assert [serve.gateway(c)["revision"] for c in serve.configs] == [2, 3]


def test_options_given_for_a_version_are_recorded_and_deployed(target, serve, settings):
    target.apply("fraud", CANARY, {2: ScorerOptions(placement="dedicated")})
    assert [a["name"] for a in serve.configs[-1]["applications"]] == ["gateway", "fraud--v2"]
    assert target.served("fraud").options[2].placement == "dedicated"


def test_removing_a_model_is_one_put(target, serve):
    target.apply("fraud", None, {})
    assert [serve.gateway(c)["traffic"]["models"] for c in serve.configs] == [{}]
    assert target.served("fraud").traffic is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({}, None, id="running-and-ready"),
        pytest.param({"gateway_waiting": ["fraud--v2 (DEPLOYING)"]},
                     "the gateway's /ready (fraud--v2 (DEPLOYING))", id="gateway-awaits-a-version"),
        pytest.param({"failing": {"gateway": "ImportError: runtime"}},
                     DeployFailed("gateway failed to deploy: ImportError: runtime"), id="deploy-failed"),
        pytest.param({"gateway_failure": "fraud:1 does not load"},
                     DeployFailed("the gateway kept its previous table: fraud:1 does not load"),
                     id="gateway-kept-its-previous-table"),
    ],
)  # fmt: skip
def test_readiness(target, serve, change, expected):
    target.apply("fraud", ModelTraffic(weights={1: 100}), {})
    assert target.readiness("fraud") == "gateway (DEPLOYING)"  # Serve's first answer after the PUT
    for name, value in change.items():
        setattr(serve, name, value)
    if isinstance(expected, DeployFailed):
        with pytest.raises(DeployFailed, match=re.escape(str(expected))):
            target.readiness("fraud")
    else:
        assert target.readiness("fraud") == expected


def test_a_refusing_dashboard_is_a_target_error(target, serve):
    serve.refuse_with = 500
    with pytest.raises(TargetError, match=r"Serve refused the request \(500\)"):
        target.apply("fraud", CANARY, {})
    with pytest.raises(TargetError, match=r"\(500\)"):
        target.readiness("fraud")


def test_an_unreachable_dashboard_is_a_target_error(target, settings):
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    cut = LocalTarget(settings, httpx.MockTransport(unreachable))
    with pytest.raises(TargetError, match="cannot reach the Ray dashboard"):
        cut.readiness("fraud")


def test_a_version_missing_from_the_store_fails_the_deploy_and_records_nothing(target, serve, settings):
    with pytest.raises(DeployFailed, match="fraud"):
        target.apply("fraud", ModelTraffic(weights={1: 90, 9: 10}), {})
    assert serve.configs == [] and read_served(settings).revision == 1


def test_an_intermediate_table_that_never_serves_stops_before_routing(target, serve):
    serve.deploy_reads = 10**6
    with pytest.raises(TargetError, match="did not settle on the intermediate table.*DEPLOYING"):
        target.apply("fraud", CANARY, {})
    assert [serve.weights(c) for c in serve.configs] == [{1: 100, 2: 0}]


def test_an_intermediate_table_serve_cannot_deploy_fails_before_routing(target, serve):
    serve.failing = {"fraud--v2": "out of memory"}
    with pytest.raises(DeployFailed, match="fraud--v2 failed to deploy: out of memory"):
        target.apply("fraud", CANARY, {2: ScorerOptions(placement="dedicated")})
    assert len(serve.configs) == 1


def test_a_change_recorded_by_another_writer_meanwhile_is_a_conflict_not_overwritten(target, serve, settings):
    def another_writer() -> None:  # `traffic set` on another model, while the canary's first table settles
        if len(serve.configs) == 1:
            current = read_served(settings)
            record_served(settings, current.desired, based_on=current.revision)

    serve.on_put = another_writer
    with pytest.raises(Conflict, match="revision 3, not 2"):
        target.apply("fraud", CANARY, {})
    assert len(serve.configs) == 1 and read_served(settings).revision == 3
